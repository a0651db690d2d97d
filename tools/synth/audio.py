"""A short AAC soundtrack (tones and a little noise) for clips made with --audio."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48_000
_CHUNK = 1024  # AAC frame size


def write_soundtrack(rng: np.random.Generator, path: Path, seconds: float) -> None:
    """Write `seconds` of stereo AAC to `path` (an .m4a); the writer then copies its packets."""
    t = np.arange(int(seconds * SAMPLE_RATE), dtype=np.float32) / SAMPLE_RATE
    pitch = rng.uniform(200.0, 800.0)
    wave = 0.2 * np.sin(2 * np.pi * pitch * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    wave = wave + rng.normal(0.0, 0.01, size=t.shape)
    samples = np.stack([wave, wave]).astype(np.float32)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        for start in range(0, samples.shape[1], _CHUNK):
            chunk = np.ascontiguousarray(samples[:, start : start + _CHUNK])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
