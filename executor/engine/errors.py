"""One exception family for everything that can go wrong reading or writing a video.

Every message is meant to be shown to a person as is, so it says what is wrong with the
input, not which FFmpeg call failed.
"""


class VideoError(Exception):
    """The video could not be read or written."""


class InputNotFound(VideoError):
    """input file not found"""


class EmptyInput(VideoError):
    """input is empty (0 bytes)"""


class NotAVideo(VideoError):
    """input is not a video: no video stream found"""


class NoFrames(VideoError):
    """input has no frames"""


class CorruptInput(VideoError):
    """input is truncated or corrupted"""


class UnsupportedInput(VideoError):
    """input uses a feature the engine does not handle"""


class OutputError(VideoError):
    """the output video could not be written"""
