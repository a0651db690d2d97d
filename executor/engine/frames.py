"""A decoded frame: its timestamp and its pixels as YUV 4:2:0 planes.

Frames stay in YUV because the engine only changes pixels around the watermark: converting
just that region to RGB and back leaves every other pixel bit-exact, so the only loss on
untouched areas is the final encode. `rgb()` is there for whole-frame work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from executor.engine.colour import ColourTags, frame_to_rgb, rgb_to_frame, rgb_to_yuv, yuv_to_rgb

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels; x2 and y2 exclusive


@dataclass
class Frame:
    """One frame. `y` is HxW, `u` and `v` are ceil(H/2) x ceil(W/2); all uint8, writable
    unless read with `copy=False`."""

    index: int
    pts: int
    time_base: Fraction
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    colour: ColourTags
    # The PyAV frame whose buffers y, u and v are views of, when it is ours alone (a copy):
    # the encoder can take it without another copy.
    own: av.VideoFrame | None = field(default=None, repr=False, compare=False)

    @property
    def time(self) -> float:
        """Presentation time in seconds."""
        return float(self.pts * self.time_base)

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    @classmethod
    def from_av(
        cls,
        frame: av.VideoFrame,
        index: int,
        pts: int,
        time_base: Fraction,
        *,
        copy: bool = True,
    ) -> Frame:
        """A yuv420p PyAV frame's planes: copied out of FFmpeg's buffers (writable), or with
        `copy=False` read-only views of them (the decoder may still use them as references
        for later frames, so they must never be written)."""
        colour = ColourTags.of_frame(frame)
        if copy:
            # One copy, into a frame of our own that to_av() then hands to the encoder as is.
            own = av.VideoFrame(frame.width, frame.height, "yuv420p")
            planes = [_plane_array(plane) for plane in own.planes[:3]]
            for target, source in zip(planes, frame.planes[:3], strict=True):
                target[:] = _plane_array(source)
            return cls(index, pts, time_base, planes[0], planes[1], planes[2], colour, own)
        planes = [_plane_array(plane) for plane in frame.planes[:3]]
        for plane in planes:
            plane.flags.writeable = False
        return cls(index, pts, time_base, planes[0], planes[1], planes[2], colour)

    @classmethod
    def from_rgb(
        cls, rgb: np.ndarray, *, index: int, pts: int, time_base: Fraction, colour: ColourTags
    ) -> Frame:
        """A frame from an HxWx3 RGB array, converted accurately to the given colour tags."""
        frame = rgb_to_frame(rgb, colour)
        planes = [_plane_array(plane).copy() for plane in frame.planes[:3]]
        return cls(index, pts, time_base, planes[0], planes[1], planes[2], colour)

    def to_av(self) -> av.VideoFrame:
        """A yuv420p PyAV frame holding these pixels, tagged with the colour description
        (the frame the planes already live in, when they were copied into one of our own)."""
        if self.own is not None and np.may_share_memory(self.y, _plane_array(self.own.planes[0])):
            frame = self.own
        else:
            frame = av.VideoFrame(self.width, self.height, "yuv420p")
            for plane, data in zip(frame.planes, (self.y, self.u, self.v), strict=True):
                _plane_array(plane)[:] = data
        frame.color_range = self.colour.range
        frame.colorspace = self.colour.matrix
        frame.color_primaries = self.colour.primaries
        frame.color_trc = self.colour.transfer
        frame.pts = self.pts
        frame.time_base = self.time_base
        return frame

    def rgb(self) -> np.ndarray:
        """The whole frame as HxWx3 uint8 RGB (accurate swscale conversion)."""
        return frame_to_rgb(self.to_av(), self.colour)

    def align(self, box: Box) -> Box:
        """Grow a box to even coordinates (clipped to the frame) so it covers whole chroma
        samples; region reads and writes work on aligned boxes."""
        x1, y1, x2, y2 = box
        x1, y1 = max(0, x1 - x1 % 2), max(0, y1 - y1 % 2)
        x2, y2 = min(self.width, x2 + x2 % 2), min(self.height, y2 + y2 % 2)
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"box {box} does not overlap the {self.width}x{self.height} frame")
        return x1, y1, x2, y2

    def read_region(self, box: Box) -> tuple[Box, np.ndarray]:
        """RGB pixels of a region; returns the aligned box actually read and its pixels."""
        x1, y1, x2, y2 = box = self.align(box)
        chroma = (slice(y1 // 2, (y2 + 1) // 2), slice(x1 // 2, (x2 + 1) // 2))
        # Nearest-neighbour chroma upsampling: each chroma sample covers its 2x2 luma block,
        # which makes write_region of an unchanged region (near) lossless.
        up_u = np.repeat(np.repeat(self.u[chroma], 2, axis=0), 2, axis=1)[: y2 - y1, : x2 - x1]
        up_v = np.repeat(np.repeat(self.v[chroma], 2, axis=0), 2, axis=1)[: y2 - y1, : x2 - x1]
        rgb = yuv_to_rgb(self.y[y1:y2, x1:x2], up_u, up_v, self.colour, (self.width, self.height))
        return box, rgb

    def write_region(self, box: Box, rgb: np.ndarray) -> None:
        """Put RGB pixels back into an aligned region (as returned by read_region)."""
        x1, y1, x2, y2 = box
        if box != self.align(box) or rgb.shape[:2] != (y2 - y1, x2 - x1):
            raise ValueError("write_region needs an aligned box and pixels of the same size")
        luma, cb, cr = rgb_to_yuv(rgb, self.colour, (self.width, self.height))
        self.y[y1:y2, x1:x2] = np.clip(np.rint(luma), 0, 255).astype(np.uint8)
        chroma = (slice(y1 // 2, (y2 + 1) // 2), slice(x1 // 2, (x2 + 1) // 2))
        self.u[chroma] = _subsample(cb)
        self.v[chroma] = _subsample(cr)


def _plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A writable view of a plane without FFmpeg's row padding."""
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _subsample(channel: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks (an odd last row/column is repeated) and round to uint8."""
    height, width = channel.shape
    padded = channel
    if height % 2 or width % 2:  # (np.pad copies even when it adds nothing)
        padded = np.pad(channel, ((0, height % 2), (0, width % 2)), mode="edge")
    return np.clip(np.rint(block_means(padded)), 0, 255).astype(np.uint8)


def block_means(plane: np.ndarray) -> np.ndarray:
    """The mean of each 2x2 block of a float plane of even size, equal bit for bit to
    `plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))` and several times faster: numpy
    adds each row's pair, then the two rows, then divides by 4 (a single column of blocks
    it adds in another order: left to numpy)."""
    height, width = plane.shape
    if width <= 2:
        return np.asarray(plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)))
    top = plane[0::2, 0::2] + plane[0::2, 1::2]
    bottom = plane[1::2, 0::2] + plane[1::2, 1::2]
    return np.asarray((top + bottom) / 4)
