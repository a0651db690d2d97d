"""Real photographs as backgrounds, seen through a virtual hand-held camera.

The photos are the Debian wallpaper packages' (gnome-backgrounds, mate-backgrounds,
plasma-workspace-wallpapers): installed on the training machine, never shipped or
committed. A photo scene pans, zooms, shakes and rolls a little over one photo, moves soft
cut-outs of other photos across it (things passing by), and adds blur and grain; the clip
writer's H.264 encode then adds the codec's own damage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from loguru import logger

PHOTO_ROOTS = (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"))
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
PHOTO_PACKAGES = ("gnome-backgrounds", "mate-backgrounds", "plasma-workspace-wallpapers")
LOAD_LONG_SIDE = 1600  # photos are shrunk to this on loading: frames are at most ~1280 wide
_SKIP_NAMES = ("screenshot", "preview", "thumbnail")


@dataclass(frozen=True)
class PhotoFile:
    """A wallpaper file; `key` groups the versions of one picture (sizes, light/dark) so the
    held-out split keeps them on one side."""

    path: Path
    package: str
    key: str


def package_of(path: Path) -> str:
    """The Debian package a wallpaper comes from, judged by where it lies."""
    parts = path.parts
    if "wallpapers" in parts:
        return "plasma-workspace-wallpapers"
    if "mate" in parts:
        return "mate-backgrounds"
    if "gnome" in parts:
        return "gnome-backgrounds"
    return "other"


def photo_key(path: Path) -> str:
    """Plasma themes keep many sizes of one picture under wallpapers/<Theme>/; GNOME names
    its light and dark versions <name>-l / <name>-d."""
    parts = path.parts
    if "wallpapers" in parts:
        index = parts.index("wallpapers")
        if index + 1 < len(parts):
            return f"wallpapers/{parts[index + 1]}"
    return f"{package_of(path)}/{re.sub(r'-(l|d|day|night)$', '', path.stem.lower())}"


@lru_cache(maxsize=2)
def installed_photos(roots: tuple[Path, ...] = PHOTO_ROOTS) -> tuple[PhotoFile, ...]:
    """Every readable wallpaper photo under `roots`, sorted by path (stable for seeding)."""
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            usable = path.suffix.lower() in PHOTO_SUFFIXES and path.is_file()
            if usable and not any(word in path.name.lower() for word in _SKIP_NAMES):
                found.append(PhotoFile(path, package_of(path), photo_key(path)))
    logger.debug("{} wallpaper photos under {}", len(found), [str(r) for r in roots])
    return tuple(found)


@lru_cache(maxsize=48)
def load_photo(path: Path, long_side: int = LOAD_LONG_SIDE) -> np.ndarray:
    """HxWx3 uint8 RGB, shrunk so its long side is at most `long_side` (cached: clips reuse
    photos)."""
    flags = cv2.IMREAD_COLOR
    if path.suffix.lower() in (".jpg", ".jpeg"):
        # JPEG decodes straight at 1/2, 1/4 or 1/8 size, far faster than full then shrink.
        header = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_8)
        if header is not None:
            full_long = max(header.shape[:2]) * 8
            for factor, flag in (
                (4, cv2.IMREAD_REDUCED_COLOR_4),
                (2, cv2.IMREAD_REDUCED_COLOR_2),
            ):
                if full_long / factor >= long_side:
                    flags = flag
                    break
    image = cv2.imread(str(path), flags)
    if image is None:
        raise OSError(f"cannot read photo {path}")
    gain = long_side / max(image.shape[:2])
    if gain < 1:
        size = (round(image.shape[1] * gain), round(image.shape[0] * gain))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[..., ::-1])


@dataclass
class _Cutout:
    pixels: np.ndarray  # hxwx3 float32
    mask: np.ndarray  # hxwx1 float32 in [0, 1], soft edges
    start: np.ndarray  # top-left, fractions of the frame
    velocity: np.ndarray  # fractions of the frame per second


class PhotoScene:
    """Renders frame i of one hand-held shot of a photo; same rng state in, same pixels out."""

    def __init__(
        self,
        rng: np.random.Generator,
        width: int,
        height: int,
        fps: float,
        photos: list[PhotoFile],
    ) -> None:
        if not photos:
            raise ValueError("a photo scene needs at least one photo")
        self.width, self.height, self.fps = width, height, fps
        self.photo = photos[int(rng.integers(len(photos)))]
        self.source = load_photo(self.photo.path)
        src_h, src_w = self.source.shape[:2]
        cover = max(width / src_w, height / src_h)
        self.zoom_start = cover * rng.uniform(1.15, 1.8)
        self.zoom_rate = rng.uniform(-0.04, 0.06)  # relative change per second
        fast = rng.random() < 0.25
        self.centre_start = np.array([src_w, src_h]) * rng.uniform(0.35, 0.65, size=2)
        speed = rng.uniform(0.1, 0.35) if fast else rng.uniform(0.0, 0.06)
        angle = rng.uniform(0, 2 * np.pi)
        # Pan speed in frame widths per second, turned into source pixels at the start zoom.
        self.pan_velocity = (
            speed * width / self.zoom_start * np.array([np.cos(angle), np.sin(angle)])
        )
        self.roll = rng.uniform(-3.0, 3.0) if rng.random() < 0.5 else 0.0
        shake = rng.uniform(0.0, 0.012) if rng.random() < 0.6 else 0.0
        self.shake = [
            (shake * width * rng.uniform(0.3, 1.0), rng.uniform(0.5, 4.0), rng.uniform(0, 6.3))
            for _ in range(4)
        ]
        self.gain = float(rng.choice([0.45, 0.7, 1.0, 1.0, 1.0, 1.2, 1.45]))
        self.tint = rng.uniform(0.9, 1.1, size=3).astype(np.float32)
        self.blur = float(rng.choice([0.0, 0.0, 0.6, 1.2, 2.0]))
        self.grain = float(rng.choice([0.0, 2.0, 4.0, 7.0]))
        self.noise = rng.normal(0.0, 1.0, size=(height + 64, width + 64, 1)).astype(np.float32)
        self.noise_offsets = rng.integers(0, 64, size=(4096, 2))
        count = int(rng.choice([0, 0, 1, 1, 2, 3]))
        self.cutouts = [_cutout(rng, photos, width, height, fast) for _ in range(count)]

    def render(self, index: int) -> np.ndarray:
        """HxWx3 uint8 RGB for frame `index`."""
        t = index / self.fps
        frame = cv2.warpAffine(
            self.source,
            self._camera(t),
            (self.width, self.height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT_101,
        ).astype(np.float32)
        for cutout in self.cutouts:
            _paste(frame, cutout, t)
        if self.blur:
            frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), self.blur), dtype=np.float32)
        frame *= self.gain * self.tint
        if self.grain:
            oy, ox = self.noise_offsets[index % len(self.noise_offsets)]
            frame += self.grain * self.noise[oy : oy + self.height, ox : ox + self.width]
        return np.clip(frame, 0, 255).astype(np.uint8)

    def _camera(self, t: float) -> np.ndarray:
        """2x3 affine from frame pixels to photo pixels at time t."""
        src_h, src_w = self.source.shape[:2]
        zoom = self.zoom_start * (1.0 + self.zoom_rate * t)
        shake = np.zeros(2)
        for k, (amplitude, frequency, phase) in enumerate(self.shake):
            shake[k % 2] += amplitude * np.sin(2 * np.pi * frequency * t + phase)
        half_view = np.array([self.width, self.height]) / 2 / zoom
        low, high = half_view, np.array([src_w, src_h]) - half_view
        centre = self.centre_start + self.pan_velocity * t
        # Bounce inside the photo (a triangle wave) so long clips never look past its edge.
        span = np.maximum(high - low, 1e-6)
        travel = np.abs(((centre - low) / span + 1.0) % 2.0 - 1.0)
        centre = np.where(high > low, low + travel * span, np.array([src_w, src_h]) / 2)
        centre = centre + shake / zoom
        angle = np.deg2rad(self.roll + 0.3 * np.sin(2 * np.pi * 0.7 * t) * bool(self.roll))
        cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
        offset = centre - np.array(
            [
                cos * self.width / 2 - sin * self.height / 2,
                sin * self.width / 2 + cos * self.height / 2,
            ]
        )
        return np.array([[cos, -sin, offset[0]], [sin, cos, offset[1]]], dtype=np.float64)


def _cutout(
    rng: np.random.Generator, photos: list[PhotoFile], width: int, height: int, fast: bool
) -> _Cutout:
    """A soft-edged patch of some photo that will slide across the frame."""
    source = load_photo(photos[int(rng.integers(len(photos)))].path)
    size = int(height * rng.uniform(0.15, 0.5))
    w, h = max(8, int(size * rng.uniform(0.6, 1.6))), max(8, size)
    src_h, src_w = source.shape[:2]
    scale = rng.uniform(0.3, 1.0)
    crop_w, crop_h = min(src_w, max(8, int(w / scale))), min(src_h, max(8, int(h / scale)))
    x0, y0 = int(rng.integers(0, src_w - crop_w + 1)), int(rng.integers(0, src_h - crop_h + 1))
    patch = cv2.resize(source[y0 : y0 + crop_h, x0 : x0 + crop_w], (w, h))
    mask = np.zeros((h, w), np.float32)
    if rng.random() < 0.5:
        cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, 1.0, -1)
    else:
        cv2.rectangle(mask, (2, 2), (w - 3, h - 3), 1.0, -1)
    mask = np.asarray(
        cv2.GaussianBlur(mask, (0, 0), max(1.0, size * rng.uniform(0.02, 0.12))), dtype=np.float32
    )
    angle = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0.4, 1.2) if fast else rng.uniform(0.05, 0.35)
    return _Cutout(
        pixels=patch.astype(np.float32),
        mask=mask[..., None],
        start=rng.uniform(-0.2, 1.0, size=2),
        velocity=speed * np.array([np.cos(angle), np.sin(angle)]),
    )


def _paste(frame: np.ndarray, cutout: _Cutout, t: float) -> None:
    """Blend the cut-out into the frame at its position at time t (wrapping round)."""
    height, width = frame.shape[:2]
    fx, fy = (cutout.start + cutout.velocity * t + 0.3) % 1.6 - 0.3
    x, y = int(fx * width), int(fy * height)
    h, w = cutout.mask.shape[:2]
    x1, y1, x2, y2 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x2 <= x1 or y2 <= y1:
        return
    mask = cutout.mask[y1 - y : y2 - y, x1 - x : x2 - x]
    pixels = cutout.pixels[y1 - y : y2 - y, x1 - x : x2 - x]
    region = frame[y1:y2, x1:x2]
    region += (pixels - region) * mask
