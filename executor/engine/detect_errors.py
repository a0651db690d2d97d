"""The detector's errors, shared by its runtimes (ONNX Runtime, torch)."""


class DetectorError(Exception):
    """the watermark detector could not be set up"""


class WeightsNotFound(DetectorError):
    """detector weights file not found"""


class BadWeights(DetectorError):
    """detector weights file is not a usable YOLO detection model"""
