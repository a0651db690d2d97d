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

Most clips are of the wide "sora" family (tools.synth: many logos and fonts, @handle line,
photos, edges, fades, distractors), drawn from the training side of the held-out split;
SORA_SHARE of them, the rest classic. Their frames go through a real H.264 round trip at
crf 18-32 (the clip's spec.crf) instead of JPEG. Each marked frame gives a crop around the
mark and often the same crop of the clean frame (same background, no mark); frames also
give random crops and crops around a distractor (white text, subtitles, logos, flares: hard
negatives). Faded-out or invisible marks (on a white sky, say) are left out rather than
taught as either answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing import get_context
from pathlib import Path

import av
import cv2
import numpy as np

from executor.engine.frames import Box
from tools.synth import ClipSpec, SynthFrame, render_frames

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
SORA_SHARE = 0.8  # clips of the wide "sora" family; the rest are classic
CRF_RANGE = (18, 32)  # H.264 quality of the round trip ("sora" clips)
H264_SHARE = 0.8  # "sora" clips through H.264; the rest through JPEG
MIN_STRENGTH = 0.4  # fade level below which a marked frame is not used as a positive
MIN_CONTRAST = 4.0  # mean |marked - clean| (levels) on the mark's ink, below: not used
MIN_VISIBLE = 0.6  # a crop cutting a mark must keep this share of its box, else dropped


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


def clip_spec(seed: int, index: int, imgsz: int, sora_share: float = SORA_SHARE) -> ClipSpec:
    """The frame size, family and crf of clip (seed, index), reproducibly. Most clips are
    rendered straight at the inference scale (long side `imgsz`: cheap); NATIVE_SHARE of them
    at their own size, to be scaled down like real frames are."""
    rng = np.random.default_rng([seed, index, 7])
    width, height = SIZES[int(rng.choice(len(SIZES), p=SIZE_WEIGHTS / SIZE_WEIGHTS.sum()))]
    if rng.random() >= NATIVE_SHARE or max(width, height) > 1280:
        gain = imgsz / max(width, height)
        width, height = 2 * round(width * gain / 2), 2 * round(height * gain / 2)
    # Drawn after the size so the classic clips keep their sizes whatever the share.
    family = "sora" if rng.random() < sora_share else "classic"
    crf = int(rng.integers(CRF_RANGE[0], CRF_RANGE[1] + 1))
    return ClipSpec(
        width=width, height=height, seconds=CLIP_SECONDS, fps=CLIP_FPS, family=family, crf=crf
    )


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


def h264_roundtrip(images: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """Encode RGB frames as one H.264 stream (yuv420p, x264 at `crf`) and decode them back:
    the codec's blocking, ringing and chroma loss, as the detector meets them."""
    if not images:
        return []
    height, width = images[0].shape[:2]
    pad_w, pad_h = width + width % 2, height + height % 2
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = pad_w, pad_h, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"crf": str(crf), "preset": "veryfast", "tune": "film"}
    packets = []
    for i, image in enumerate(images):
        padded = cv2.copyMakeBorder(
            image, 0, pad_h - height, 0, pad_w - width, cv2.BORDER_REPLICATE
        )
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(padded, dtype=np.uint8), format="rgb24"
        )
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    decoder = av.CodecContext.create("h264", "r")
    decoded = []
    for packet in packets:
        decoded += decoder.decode(packet)
    decoded += decoder.decode(None)
    if len(decoded) != len(images):
        raise RuntimeError(f"H.264 round trip gave {len(decoded)} of {len(images)} frames")
    return [f.to_ndarray(format="rgb24")[:height, :width] for f in decoded]


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


def _usable_positive(frame: SynthFrame) -> bool:
    """A mark worth teaching: not faded out, and changing the pixels enough to be seen."""
    if frame.box is None or frame.strength < MIN_STRENGTH:
        return False
    x1, y1, x2, y2 = frame.box
    diff = np.abs(frame.marked[y1:y2, x1:x2].astype(np.int16) - frame.clean[y1:y2, x1:x2])
    changed = diff.max(axis=-1) > 0
    return bool(changed.any()) and float(diff.max(axis=-1)[changed].mean()) >= MIN_CONTRAST


def _crop_sample(
    name: str, image: np.ndarray, window: tuple[int, int, int, int], box: Box | None
) -> Sample | None:
    """The window of `image` with the mark's part in it; None when the window cuts the mark
    so much that neither answer is right."""
    x0, y0, x1, y1 = window
    inside = _clip_box(box, window) if box is not None else None
    if box is not None and inside is not None:
        full = (box[2] - box[0]) * (box[3] - box[1])
        if (inside[2] - inside[0]) * (inside[3] - inside[1]) < MIN_VISIBLE * full:
            return None
    return Sample(name, image[y0:y1, x0:x1], inside)


def _around(
    rng: np.random.Generator, shape: tuple[int, int], crop: int, box: Box
) -> tuple[int, int, int, int]:
    """A window holding the centre of `box` (for distractors larger than the window)."""
    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    return _window(rng, shape, crop, (cx, cy, cx + 1, cy + 1))


def _scaled_box(box: Box, gain: float) -> Box:
    x1, y1, x2, y2 = (round(v * gain) for v in box)
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


def clip_samples(
    seed: int, index: int, *, imgsz: int, crop: int | None, sora_share: float = SORA_SHARE
) -> list[Sample]:
    """Samples from clip (seed, index): crops for training (crop set), whole frames if not."""
    spec = clip_spec(seed, index, imgsz, sora_share)
    rng = np.random.default_rng([seed, index, 11])
    frames = list(render_frames(seed, index, spec))
    chosen = _pick_frames([f.box for f in frames], rng, FRAMES_PER_CLIP)
    chosen = [i for i in chosen if frames[i].box is None or _usable_positive(frames[i])]
    if spec.family == "sora" and rng.random() < H264_SHARE:
        marked_all = h264_roundtrip([frames[i].marked for i in chosen], spec.crf)
        clean_all = h264_roundtrip([frames[i].clean for i in chosen], spec.crf)
    else:
        marked_all = [compress(rng, frames[i].marked) for i in chosen]
        clean_all = [compress(rng, frames[i].clean) for i in chosen]
    gain = imgsz / max(spec.width, spec.height)
    samples: list[Sample] = []
    for k, i in enumerate(chosen):
        frame = frames[i]
        marked, box = scale_to(marked_all[k], frame.box, imgsz)
        name = f"s{seed}_c{index:05d}_f{i:03d}"
        if crop is None:
            samples.append(Sample(name, marked, box))
            continue
        shape = marked.shape[:2]
        window = _window(rng, shape, crop, box)
        candidates = [_crop_sample(name, marked, window, box)]
        if box is not None and rng.random() < 0.5:
            clean, _ = scale_to(clean_all[k], None, imgsz)
            candidates.append(_crop_sample(name + "_clean", clean, window, None))
        if box is None or rng.random() < 0.25:
            random_window = _window(rng, shape, crop, None)
            candidates.append(_crop_sample(name + "_rand", marked, random_window, box))
        if frame.distractors:
            target = frame.distractors[int(rng.integers(len(frame.distractors)))]
            near = _around(rng, shape, crop, _scaled_box(target, gain))
            candidates.append(_crop_sample(name + "_neg", marked, near, box))
        samples += [c for c in candidates if c is not None]
    return samples


def _job(args: tuple[int, int, int, int | None, float]) -> list[Sample]:
    seed, index, imgsz, crop, sora_share = args
    cv2.setNumThreads(1)  # the machine is shared: one core per worker
    return clip_samples(seed, index, imgsz=imgsz, crop=crop, sora_share=sora_share)


def generate(
    seed: int,
    clips: int,
    *,
    imgsz: int,
    crop: int | None,
    workers: int,
    sora_share: float = SORA_SHARE,
) -> Iterator[Sample]:
    """Samples of clips 0..clips-1 of `seed`, in order (the same whatever `workers` is)."""
    check_seeds(seed)
    jobs = [(seed, index, imgsz, crop, sora_share) for index in range(clips)]
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
