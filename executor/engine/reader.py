"""VideoReader: stream a video's frames one at a time (never the whole video in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import av
import av.error
from loguru import logger

from executor.engine.colour import to_yuv420p
from executor.engine.errors import CorruptInput, NoFrames
from executor.engine.frames import Frame
from executor.engine.probe import VideoInfo, open_input, probe, video_stream


class VideoReader:
    """Context manager; iterate it for `Frame`s in presentation order.

    >>> with VideoReader("in.mp4") as reader:
    ...     for frame in reader:
    ...         ...
    """

    def __init__(self, path: str | Path, *, threads: int = 0, copy: bool = True) -> None:
        """`copy=False` yields read-only frames that share FFmpeg's buffers: for passes that
        only look at the pixels (detection, motion, gathering sources), it saves a copy."""
        self.path = Path(path)
        self.threads = threads
        self.copy = copy
        self._stack = ExitStack()
        self._container: av.container.InputContainer | None = None
        self._info: VideoInfo | None = None

    @property
    def info(self) -> VideoInfo:
        if self._info is None:
            raise RuntimeError("VideoReader is not open; use it in a with block")
        return self._info

    def __enter__(self) -> VideoReader:
        self._info = probe(self.path)
        self._container = self._stack.enter_context(open_input(self.path))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()
        self._container = None

    def __iter__(self) -> Iterator[Frame]:
        if self._container is None:
            raise RuntimeError("VideoReader is not open; use it in a with block")
        info = self.info
        stream = video_stream(self._container)
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is the reader's cost
        stream.thread_count = self.threads
        # The colour tags come from the stream's first frame; later frames rarely differ,
        # and one description per video keeps region conversions consistent over time.
        tags = info.colour
        frame_step = _frame_step(info)
        packets = index = 0
        last_pts: int | None = None
        try:
            for packet in self._container.demux(stream):
                if packet.size:
                    packets += 1
                for decoded in packet.decode():
                    pts = _pts(decoded, last_pts, frame_step)
                    last_pts = pts
                    yield Frame.from_av(
                        to_yuv420p(decoded, tags), index, pts, info.time_base, copy=self.copy
                    )
                    index += 1
        except av.error.FFmpegError as error:
            raise CorruptInput(
                f"input is truncated or corrupted at frame {index} ({error.strerror})"
            ) from error
        # A container that promised more samples than it held was cut short.
        if info.frame_count_declared and packets < info.frame_count:
            raise CorruptInput(
                f"input is truncated or corrupted at frame {index} "
                f"(the file promises {info.frame_count} frames)"
            )
        if index == 0:
            raise NoFrames("input has no frames")
        logger.debug("read {} frames from {}", index, self.path.name)


def _frame_step(info: VideoInfo) -> int:
    """One frame's duration in time_base ticks, for streams that lack timestamps."""
    if info.frame_rate:
        return max(1, round(1 / (info.frame_rate * info.time_base)))
    return 1


def _pts(frame: av.VideoFrame, last_pts: int | None, step: int) -> int:
    if frame.pts is not None:
        return int(frame.pts)
    return 0 if last_pts is None else last_pts + step
