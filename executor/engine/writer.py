"""VideoWriter: H.264 (libx264, yuv420p) output that keeps the input's timing and tags.

Written to a hidden temp file next to the output and renamed on success, so a failure never
leaves a partial video where the caller expects a finished one.
"""

from __future__ import annotations

import os
import secrets
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.error
import numpy as np
from loguru import logger

from executor.engine.audio_copy import AudioCopier
from executor.engine.colour import ColourTags
from executor.engine.errors import OutputError, UnsupportedInput, VideoError
from executor.engine.frames import Frame
from executor.engine.probe import VideoInfo

# x264 speed/size trade-off. veryfast: at crf 18 the picture is as good as with medium
# (the crf sets the quality; the preset mostly the file size, ~20% larger here) at about
# twice the speed, and the encode is most of the engine's time on a CPU.
DEFAULT_PRESET = "veryfast"

# Containers whose index can be moved to the front so players start before the download ends.
_FASTSTART_SUFFIXES = {".mp4", ".m4v", ".mov"}


class VideoWriter:
    """Context manager; `write(frame)` in presentation order, frames keep their own pts."""

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        frame_rate: Fraction,
        time_base: Fraction | None = None,
        rotation: int = 0,
        colour: ColourTags | None = None,
        crf: int = 18,
        preset: str = DEFAULT_PRESET,
        audio_from: str | Path | None = None,
        odd_size: str = "pad",
    ) -> None:
        """`odd_size`: H.264 in yuv420p needs even sizes; "pad" repeats the last row/column
        (the output is then one pixel wider/taller), "error" refuses with a VideoError."""
        if odd_size not in ("pad", "error"):
            raise ValueError("odd_size must be 'pad' or 'error'")
        if (width % 2 or height % 2) and odd_size == "error":
            raise UnsupportedInput(
                f"cannot encode {width}x{height}: H.264 in yuv420p needs an even width and "
                f"height (use odd_size='pad' to add one pixel of padding)"
            )
        self.path = Path(path)
        self.width, self.height = width, height
        self.frame_rate = Fraction(frame_rate)
        self.time_base = Fraction(time_base) if time_base else 1 / self.frame_rate
        self.rotation = rotation
        # New videos (no input to copy tags from) are tagged BT.709 limited range, the
        # convention for HD video, so players need not guess.
        self.colour = colour or ColourTags(range=1, matrix=1, primaries=1, transfer=1)
        self.crf, self.preset = crf, preset
        self.audio_from = Path(audio_from) if audio_from else None
        self.frames_written = 0
        self._temp = self.path.with_name(
            f".{self.path.stem}.{secrets.token_hex(4)}.partial{self.path.suffix}"
        )
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._audio: AudioCopier | None = None
        self._last_pts: int | None = None

    @classmethod
    def like(
        cls, info: VideoInfo, path: str | Path, *, crf: int = 18, preset: str = DEFAULT_PRESET
    ) -> VideoWriter:
        """A writer that matches an input: size, rate, time base, rotation, colour, audio."""
        return cls(
            path,
            width=info.width,
            height=info.height,
            frame_rate=info.frame_rate or Fraction(30),
            time_base=info.time_base,
            rotation=info.rotation,
            colour=info.colour,
            crf=crf,
            preset=preset,
            audio_from=info.path if info.has_audio else None,
        )

    @property
    def encoded_size(self) -> tuple[int, int]:
        return self.width + self.width % 2, self.height + self.height % 2

    def __enter__(self) -> VideoWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "+faststart"} if self.path.suffix in _FASTSTART_SUFFIXES else {}
        try:
            self._container = av.open(str(self._temp), mode="w", options=options)
            self._stream = self._add_video_stream(self._container)
            if self.audio_from is not None:
                self._audio = AudioCopier(self.audio_from, self._container)
        except av.error.FFmpegError as error:
            self._discard()
            raise OutputError(f"could not start the output video ({error.strerror})") from error
        except BaseException:
            self._discard()
            raise
        return self

    def _add_video_stream(self, container: av.container.OutputContainer) -> av.VideoStream:
        stream = container.add_stream(
            "libx264", rate=self.frame_rate, options={"crf": str(self.crf), "preset": self.preset}
        )
        stream.width, stream.height = self.encoded_size
        stream.pix_fmt = "yuv420p"
        # Encode in the input's own time base so every frame keeps its exact timestamp
        # (variable frame rate survives); the muxer rescales to its own clock losslessly.
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        stream.codec_context.framerate = self.frame_rate
        stream.codec_context.color_range = self.colour.range
        stream.codec_context.colorspace = self.colour.matrix
        stream.codec_context.color_primaries = self.colour.primaries
        stream.codec_context.color_trc = self.colour.transfer
        if self.rotation:
            stream.set_display_rotation(self.rotation)
        return stream

    def write(self, frame: Frame) -> None:
        """Encode one frame at its own pts (in the writer's time base)."""
        if self._container is None or self._stream is None:
            raise RuntimeError("VideoWriter is not open; use it in a with block")
        if (frame.width, frame.height) != (self.width, self.height):
            raise VideoError(
                f"frame is {frame.width}x{frame.height}, the output is {self.width}x{self.height}"
            )
        if self._last_pts is not None and frame.pts <= self._last_pts:
            raise VideoError(
                f"frame {frame.index} has pts {frame.pts}, not after the previous {self._last_pts}"
            )
        av_frame = _padded(frame).to_av()
        av_frame.time_base = self.time_base
        try:
            self._container.mux(self._stream.encode(av_frame))
            if self._audio is not None:
                self._audio.copy_until(float(frame.pts * self.time_base))
        except av.error.FFmpegError as error:
            raise OutputError(f"could not encode frame {frame.index} ({error.strerror})") from error
        self._last_pts = frame.pts
        self.frames_written += 1

    def write_rgb(self, rgb: np.ndarray, *, pts: int) -> None:
        """Encode an HxWx3 RGB array (accurately converted to the output's colour tags)."""
        frame = Frame.from_rgb(
            rgb, index=self.frames_written, pts=pts, time_base=self.time_base, colour=self.colour
        )
        self.write(frame)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            self._finish()
        except BaseException:
            self._discard()
            raise
        os.replace(self._temp, self.path)
        logger.info(
            "wrote {} ({} frames, crf {}, {})",
            self.path.name,
            self.frames_written,
            self.crf,
            f"{self._audio.copied} audio packets copied" if self._audio else "no audio",
        )

    def _finish(self) -> None:
        assert self._container is not None and self._stream is not None
        if self.frames_written == 0:
            raise OutputError("no frames were written")
        try:
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.copy_until(None)
                self._audio.close()
            self._container.close()
        except av.error.FFmpegError as error:
            raise OutputError(f"could not finish the output video ({error.strerror})") from error

    def _discard(self) -> None:
        """Close whatever is open and remove the partial file; never raises."""
        for closer in (self._audio, self._container):
            if closer is None:
                continue
            try:
                closer.close()
            except Exception as error:  # the original error matters more than this one
                logger.debug("ignored while discarding {}: {}", self._temp.name, error)
        self._temp.unlink(missing_ok=True)


def _padded(frame: Frame) -> Frame:
    """Repeat the last column/row of an odd-sized frame; chroma planes already cover it."""
    pad_y, pad_x = frame.height % 2, frame.width % 2
    if not (pad_y or pad_x):
        return frame
    y = np.pad(frame.y, ((0, pad_y), (0, pad_x)), mode="edge")
    return Frame(frame.index, frame.pts, frame.time_base, y, frame.u, frame.v, frame.colour)
