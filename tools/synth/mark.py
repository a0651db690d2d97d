"""A Sora-style watermark: a small cloud/knot glyph next to the word "Sora", white,
semi-transparent, slightly blurred, with a faint shadow.

Drawn procedurally (no assets): the glyph is a ring of overlapping circles, as an outline or
filled; the word uses a random DejaVu font, or Pillow's built-in font when DejaVu is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans-ExtraLight.ttf",
)
# Alpha below one level cannot change an 8-bit pixel: drop it so the box is exactly where
# the mark changes pixels.
_ALPHA_FLOOR = 1.0 / 255.0


@dataclass(frozen=True)
class MarkSprite:
    """The mark as two alpha maps over the same box: white ink and a black shadow."""

    ink: np.ndarray  # HxW float32 in [0, 1]
    shadow: np.ndarray  # HxW float32 in [0, 1]
    font: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.ink.shape[1]), int(self.ink.shape[0])

    def composite(self, frame: np.ndarray, x: int, y: int) -> None:
        """Draw the mark onto an RGB uint8 frame in place, its top-left corner at (x, y)."""
        width, height = self.size
        region = frame[y : y + height, x : x + width].astype(np.float32)
        region *= 1.0 - self.shadow[..., None]
        region += (255.0 - region) * self.ink[..., None]
        frame[y : y + height, x : x + width] = np.clip(np.rint(region), 0, 255).astype(np.uint8)


def available_fonts() -> list[Path]:
    return [FONT_DIR / name for name in FONT_FILES if (FONT_DIR / name).is_file()]


def make_mark(rng: np.random.Generator, frame_width: int) -> MarkSprite:
    """A mark 8-15% of the frame width wide, with random style."""
    target_width = max(16, round(frame_width * rng.uniform(0.08, 0.15)))
    fonts = available_fonts()
    font_path = fonts[int(rng.integers(len(fonts)))] if fonts else None
    # Draw large, then shrink: small text and glyphs come out properly anti-aliased.
    text_px = 96
    font = _font(font_path, text_px)
    glyph = _glyph(rng, int(text_px * rng.uniform(1.0, 1.3)))
    text = _text(font, "Sora")
    gap = int(text_px * rng.uniform(0.15, 0.35))
    width = glyph.width + gap + text.width
    height = max(glyph.height, text.height)
    canvas = Image.new("L", (width, height), 0)
    canvas.paste(glyph, (0, (height - glyph.height) // 2))
    canvas.paste(text, (glyph.width + gap, (height - text.height) // 2))
    scale = target_width / width
    size = (target_width, max(4, round(height * scale)))
    ink_image = canvas.resize(size, Image.Resampling.LANCZOS)
    ink_image = ink_image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 0.8))))
    margin = 3  # room for the blur and the shadow offset
    ink_image = _pad(ink_image, margin)
    shadow_image = ImageChops.offset(ink_image, 1, 1).filter(ImageFilter.GaussianBlur(1.2))
    opacity = float(rng.uniform(0.3, 0.9))
    ink = np.asarray(ink_image, dtype=np.float32) / 255.0 * opacity
    shadow = np.asarray(shadow_image, dtype=np.float32) / 255.0 * rng.uniform(0.1, 0.35)
    ink[ink < _ALPHA_FLOOR] = 0.0
    shadow[shadow < _ALPHA_FLOOR] = 0.0
    ink, shadow = _trim(ink, shadow)
    return MarkSprite(ink=ink, shadow=shadow, font=font_path.name if font_path else "default")


def _font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is not None:
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _text(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, word: str) -> Image.Image:
    left, top, right, bottom = font.getbbox(word)
    image = Image.new("L", (int(right - left) + 2, int(bottom - top) + 2), 0)
    ImageDraw.Draw(image).text((1 - left, 1 - top), word, fill=255, font=font)
    return image


def _glyph(rng: np.random.Generator, size: int) -> Image.Image:
    """A cloud/knot-like logo: overlapping circles on a ring, outlined or filled."""
    scale = 4  # supersample the circles for smooth edges
    big = size * scale
    image = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(image)
    lobes = int(rng.integers(3, 7))
    ring = big * rng.uniform(0.14, 0.22)
    radius = big * rng.uniform(0.2, 0.28)
    phase = rng.uniform(0, 2 * np.pi)
    centre = big / 2
    for k in range(lobes):
        angle = phase + 2 * np.pi * k / lobes
        cx, cy = centre + ring * np.cos(angle), centre + ring * np.sin(angle)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
    if rng.random() < 0.7:  # the real mark is an outline; keep some filled ones for variety
        stroke = max(3, int(big * rng.uniform(0.05, 0.09))) | 1
        inner = image.filter(ImageFilter.MinFilter(stroke))
        image = ImageChops.subtract(image, inner)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _pad(image: Image.Image, margin: int) -> Image.Image:
    padded = Image.new("L", (image.width + 2 * margin, image.height + 2 * margin), 0)
    padded.paste(image, (margin, margin))
    return padded


def _trim(ink: np.ndarray, shadow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut the sprite to the rows and columns where either map is non-zero."""
    used = (ink > 0) | (shadow > 0)
    rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return np.ascontiguousarray(ink[crop]), np.ascontiguousarray(shadow[crop])
