"""Video I/O for the engine: one import for probing, reading, writing and copying videos.

Frames are handed out as YUV 4:2:0 planes with accurate region/whole-frame RGB conversion
(see frames.py for why); audio is copied packet for packet.
"""

from executor.engine.colour import ColourTags
from executor.engine.errors import (
    CorruptInput,
    EmptyInput,
    InputNotFound,
    NoFrames,
    NotAVideo,
    OutputError,
    UnsupportedInput,
    VideoError,
)
from executor.engine.frames import Box, Frame
from executor.engine.probe import VideoInfo, probe
from executor.engine.reader import VideoReader
from executor.engine.roundtrip import CopyReport, copy_video, measure_psnr
from executor.engine.writer import VideoWriter

__all__ = [
    "Box",
    "ColourTags",
    "CopyReport",
    "CorruptInput",
    "EmptyInput",
    "Frame",
    "InputNotFound",
    "NoFrames",
    "NotAVideo",
    "OutputError",
    "UnsupportedInput",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "copy_video",
    "measure_psnr",
    "probe",
]
