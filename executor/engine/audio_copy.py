"""Copy an input's audio packets into an output unchanged (remux, never re-encode)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import av.error

from executor.engine.errors import CorruptInput


class AudioCopier:
    """Streams the first audio track of `source` into `output`, interleaved with the video.

    The writer calls `copy_until(t)` as video advances so the muxer never has to buffer
    minutes of one stream while waiting for the other.
    """

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self._input = av.open(str(source), mode="r")
        in_stream = self._input.streams.audio[0]
        self.stream = output.add_stream_from_template(in_stream)
        self._output = output
        self._packets: Iterator[av.Packet] = self._input.demux(in_stream)
        self._pending: av.Packet | None = None
        self.copied = 0

    def copy_until(self, seconds: float | None) -> None:
        """Mux every audio packet that starts before `seconds` (None: all that are left)."""
        try:
            while True:
                packet = self._pending or next(self._packets, None)
                self._pending = None
                if packet is None:
                    return
                if packet.dts is None or packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                start = packet.pts if packet.pts is not None else packet.dts
                if seconds is not None and float(start * packet.time_base) > seconds:
                    self._pending = packet
                    return
                packet.stream = self.stream
                self._output.mux(packet)
                self.copied += 1
        except av.error.FFmpegError as error:
            raise CorruptInput(
                f"input audio is truncated or corrupted ({error.strerror})"
            ) from error

    def close(self) -> None:
        self._input.close()
