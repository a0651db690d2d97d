"""A YOLO dataset made from the synthetic generator (tools.synth).

Seeds: the generator names a clip by (seed, index). Training uses seed TRAIN_SEED and
validation VAL_SEED; every seed >= EVAL_SEED_START is reserved for evaluation and never
used here, so evaluation clips are never seen in training.

Images are made the way the detector will see them: each synthetic frame is JPEG-compressed
at its own size (standing in for the video codec), then scaled so its long side is
`imgsz` (what inference does). Training images are `crop` x `crop` windows of that scaled
frame: one around the mark, plus the same window from the clean frame (the same background
without the mark: a hard negative); frames with no mark give a random window. A fully
convolutional detector learns the same thing from the crops as from whole frames, at a
fraction of the CPU cost. Validation images are whole scaled frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from executor.engine.frames import Box
from tools.synth import ClipSpec, render_frames

TRAIN_SEED = 0
VAL_SEED = 1
EVAL_SEED_START = 1_000_000  # seeds from here on are for evaluation only

# (width, height): Sora's portrait and landscape sizes first, then others.
SIZES: tuple[tuple[int, int], ...] = (
    (704, 1280),
    (1280, 720),
    (720, 1280),
    (1280, 704),
    (480, 854),
    (854, 480),
    (640, 360),
    (360, 640),
    (1920, 1080),
    (1080, 1920),
    (720, 720),
    (1024, 576),
)
SIZE_WEIGHTS = np.array([4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], dtype=np.float64)
CLIP_SECONDS = 8.0
CLIP_FPS = 2  # few frames per clip: each still frame is rendered once; stays last 2-8 frames
FRAMES_PER_CLIP = 5
NATIVE_SHARE = 0.1  # clips rendered at full size (slow) rather than at the inference scale


@dataclass(frozen=True)
class Sample:
    """One image of the dataset and its mark box in that image's pixels (or None)."""

    name: str
    image: np.ndarray  # RGB
    box: Box | None


def check_seeds(*seeds: int) -> None:
    for seed in seeds:
        if seed >= EVAL_SEED_START:
            raise ValueError(f"seed {seed} is reserved for evaluation (>= {EVAL_SEED_START})")


def clip_spec(seed: int, index: int, imgsz: int) -> ClipSpec:
    """The frame size of clip (seed, index), drawn from SIZES, reproducibly. Most clips are
    rendered straight at the inference scale (long side `imgsz`: cheap); NATIVE_SHARE of them
    at their own size, to be scaled down like real frames are."""
    rng = np.random.default_rng([seed, index, 7])
    width, height = SIZES[int(rng.choice(len(SIZES), p=SIZE_WEIGHTS / SIZE_WEIGHTS.sum()))]
    if rng.random() >= NATIVE_SHARE or max(width, height) > 1280:
        gain = imgsz / max(width, height)
        width, height = 2 * round(width * gain / 2), 2 * round(height * gain / 2)
    return ClipSpec(width=width, height=height, seconds=CLIP_SECONDS, fps=CLIP_FPS)


def scale_to(image: np.ndarray, box: Box | None, imgsz: int) -> tuple[np.ndarray, Box | None]:
    """Resize so the long side is `imgsz` (bilinear, as inference letterboxing does)."""
    height, width = image.shape[:2]
    gain = imgsz / max(height, width)
    size = (max(1, round(width * gain)), max(1, round(height * gain)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    if box is None:
        return scaled, None
    x1, y1, x2, y2 = (round(v * gain) for v in box)
    return scaled, (x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))


def compress(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A JPEG round trip at a random quality: codec-like blocking and chroma loss."""
    quality = int(rng.integers(60, 96))
    ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    return np.ascontiguousarray(decoded[..., ::-1])


def _window(
    rng: np.random.Generator, shape: tuple[int, int], crop: int, box: Box | None
) -> tuple[int, int, int, int]:
    """A crop x crop window (smaller where the image is) holding `box` whole, if given."""
    height, width = shape
    cw, ch = min(crop, width), min(crop, height)
    if box is None:
        x0, y0 = int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1))
    else:
        x1, y1, x2, y2 = box
        x_low, x_high = max(0, x2 - cw), min(x1, width - cw)
        y_low, y_high = max(0, y2 - ch), min(y1, height - ch)
        x0 = int(rng.integers(x_low, max(x_low, x_high) + 1))
        y0 = int(rng.integers(y_low, max(y_low, y_high) + 1))
    return x0, y0, x0 + cw, y0 + ch


def _clip_box(box: Box, window: tuple[int, int, int, int]) -> Box | None:
    x0, y0, x1w, y1w = window
    x1, y1 = max(box[0], x0) - x0, max(box[1], y0) - y0
    x2, y2 = min(box[2], x1w) - x0, min(box[3], y1w) - y0
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def _pick_frames(boxes: list[Box | None], rng: np.random.Generator, count: int) -> list[int]:
    """Frames from up to `count` different stays (runs of the same box), one each, then
    more from the same stays (other backgrounds) while fewer stays than `count` exist."""
    stays: list[list[int]] = []
    for i, box in enumerate(boxes):
        if stays and boxes[stays[-1][0]] == box:
            stays[-1].append(i)
        else:
            stays.append([i])
    order = [int(k) for k in rng.permutation(len(stays))]
    picked: set[int] = set()
    while len(picked) < min(count, len(boxes)):
        for k in order:
            free = [i for i in stays[k] if i not in picked]
            if free and len(picked) < count:
                picked.add(int(rng.choice(free)))
    return sorted(picked)


def clip_samples(seed: int, index: int, *, imgsz: int, crop: int | None) -> list[Sample]:
    """Samples from clip (seed, index): crops for training (crop set), whole frames if not."""
    spec = clip_spec(seed, index, imgsz)
    rng = np.random.default_rng([seed, index, 11])
    frames = list(render_frames(seed, index, spec))
    chosen = _pick_frames([f.box for f in frames], rng, FRAMES_PER_CLIP)
    samples: list[Sample] = []
    for i in chosen:
        frame = frames[i]
        marked, box = scale_to(compress(rng, frame.marked), frame.box, imgsz)
        name = f"s{seed}_c{index:05d}_f{i:03d}"
        if crop is None:
            samples.append(Sample(name, marked, box))
            continue
        window = _window(rng, marked.shape[:2], crop, box)
        x0, y0, x1, y1 = window
        inside = _clip_box(box, window) if box is not None else None
        samples.append(Sample(name, marked[y0:y1, x0:x1], inside))
        if box is not None and rng.random() < 0.5:
            clean, _ = scale_to(compress(rng, frame.clean), None, imgsz)
            samples.append(Sample(name + "_clean", clean[y0:y1, x0:x1], None))
    return samples


def _job(args: tuple[int, int, int, int | None]) -> list[Sample]:
    seed, index, imgsz, crop = args
    return clip_samples(seed, index, imgsz=imgsz, crop=crop)


def generate(
    seed: int, clips: int, *, imgsz: int, crop: int | None, workers: int
) -> Iterator[Sample]:
    """Samples of clips 0..clips-1 of `seed`, in order (the same whatever `workers` is)."""
    check_seeds(seed)
    jobs = [(seed, index, imgsz, crop) for index in range(clips)]
    if workers <= 1:
        for job in jobs:
            yield from _job(job)
        return
    with get_context("spawn").Pool(workers) as pool:
        for samples in pool.imap(_job, jobs, chunksize=2):
            yield from samples


def write_split(root: Path, split: str, samples: Iterator[Sample]) -> tuple[int, int]:
    """Write images/<split>/*.png and labels/<split>/*.txt; returns (images, with a mark)."""
    images, labels = root / "images" / split, root / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    total = marked = 0
    for sample in samples:
        height, width = sample.image.shape[:2]
        cv2.imwrite(str(images / f"{sample.name}.png"), sample.image[..., ::-1])
        line = ""
        if sample.box is not None:
            x1, y1, x2, y2 = sample.box
            cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
            line = f"0 {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n"
            marked += 1
        (labels / f"{sample.name}.txt").write_text(line)
        total += 1
    return total, marked


def write_yaml(root: Path) -> Path:
    path = root / "data.yaml"
    path.write_text(
        f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: watermark\n"
    )
    return path
