"""Sora-style watermarks as two exactly known alpha maps: white `ink` and a black `shadow`.

A frame region becomes `region *= 1 - shadow; region += (255 - region) * ink` (see
composite(); the matte estimation elsewhere relies on exactly this formula).

Two generators:
- make_mark(): the "classic" mark the shipped detector was trained on: a ring-of-circles
  glyph and "Sora" in a DejaVu font, one line, 8-15 % of the frame width.
- make_sora_mark(): the wide family modelled on the real mark: one of several logo shapes
  (outline or filled), "Sora" in any installed font, usually an @handle line in smaller type
  under it (centred or left-aligned), 35-90 % opacity, blur 0-1.2 px, sometimes a faint
  dark shadow, 6-18 % of the frame width.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from tools.synth.fonts import FontFile, load_font, pick_font
from tools.synth.logos import draw_logo, ring_of_circles
from tools.synth.spec import Look

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
HANDLE_SHARE = 0.75  # marks with an @handle line
WIDTH_SHARE = (0.06, 0.18)  # the wide family's width, as a share of the frame width
OPACITY = (0.35, 0.9)
MAX_BLUR = 1.2
_HANDLE_CHARS = string.ascii_lowercase + string.digits
_SYLLABLES = (
    "ka", "lo", "mi", "ra", "ne", "to", "vi", "sa", "ju", "be", "do", "ly", "an", "el", "or",
    "max", "sun", "art", "pix", "neo", "zen", "sky", "fox", "joe", "ann", "kim", "lee", "dev",
)  # fmt: skip


@dataclass(frozen=True)
class MarkStyle:
    """How one mark was drawn (recorded in the clip's meta json)."""

    logo: str
    filled: bool
    handle: str | None
    font: str
    opacity: float
    blur: float
    shadow: float  # peak shadow strength, 0 for none
    align: str  # where the handle line sits: "centre", "left" or "text"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MarkSprite:
    """The mark as two alpha maps over the same box: white ink and a black shadow."""

    ink: np.ndarray  # HxW float32 in [0, 1]
    shadow: np.ndarray  # HxW float32 in [0, 1]
    font: str
    style: MarkStyle | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.ink.shape[1]), int(self.ink.shape[0])

    def composite(self, frame: np.ndarray, x: int, y: int, strength: float = 1.0) -> None:
        """Draw the mark onto an RGB uint8 frame in place, its top-left corner at (x, y) (it
        may hang over the frame's edges); `strength` < 1 fades it (both maps scaled)."""
        composite(frame, self.ink, self.shadow, x, y, strength)

    def visible_box(
        self, x: int, y: int, frame_size: tuple[int, int]
    ) -> tuple[int, int, int, int] | None:
        """The tight box (x2, y2 exclusive) of the pixels this mark changes with its corner at
        (x, y) in a frame of `frame_size` (width, height); None when none are inside."""
        return visible_box(self.ink, self.shadow, x, y, frame_size)


def composite(
    frame: np.ndarray, ink: np.ndarray, shadow: np.ndarray, x: int, y: int, strength: float = 1.0
) -> None:
    """The one compositing formula: region *= 1 - s*shadow; region += (255 - region) * s*ink,
    for the part of the sprite that lies inside the frame."""
    clipped = _clip(ink.shape, x, y, frame.shape[1], frame.shape[0])
    if clipped is None:
        return
    (fy, fx), (sy, sx) = clipped
    region = frame[fy, fx].astype(np.float32)
    ink_part, shadow_part = ink[sy, sx], shadow[sy, sx]
    if strength != 1.0:
        ink_part, shadow_part = ink_part * strength, shadow_part * strength
    region *= 1.0 - shadow_part[..., None]
    region += (255.0 - region) * ink_part[..., None]
    frame[fy, fx] = np.clip(np.rint(region), 0, 255).astype(np.uint8)


def visible_box(
    ink: np.ndarray, shadow: np.ndarray, x: int, y: int, frame_size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Tight frame box of the non-zero part of a sprite at (x, y) that lies in the frame."""
    clipped = _clip(ink.shape, x, y, frame_size[0], frame_size[1])
    if clipped is None:
        return None
    _, (sy, sx) = clipped
    used = (ink[sy, sx] > 0) | (shadow[sy, sx] > 0)
    rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
    if not len(rows):
        return None
    top, left = y + sy.start, x + sx.start
    return (
        left + int(cols[0]),
        top + int(rows[0]),
        left + int(cols[-1]) + 1,
        top + int(rows[-1]) + 1,
    )


def _clip(
    shape: tuple[int, ...], x: int, y: int, width: int, height: int
) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """(frame slices, sprite slices) of the overlap of a sprite at (x, y) with the frame."""
    h, w = shape[:2]
    x1, y1, x2, y2 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x2 <= x1 or y2 <= y1:
        return None
    return (slice(y1, y2), slice(x1, x2)), (slice(y1 - y, y2 - y), slice(x1 - x, x2 - x))


def available_fonts() -> list[Path]:
    return [FONT_DIR / name for name in FONT_FILES if (FONT_DIR / name).is_file()]


def make_mark(rng: np.random.Generator, frame_width: int) -> MarkSprite:
    """The classic mark: 8-15% of the frame width wide, with random style."""
    target_width = max(16, round(frame_width * rng.uniform(0.08, 0.15)))
    fonts = available_fonts()
    font_path = fonts[int(rng.integers(len(fonts)))] if fonts else None
    # Draw large, then shrink: small text and glyphs come out properly anti-aliased.
    text_px = 96
    font = _font(font_path, text_px)
    glyph, filled = _glyph(rng, int(text_px * rng.uniform(1.0, 1.3)))
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
    blur = float(rng.uniform(0.0, 0.8))
    ink_image = ink_image.filter(ImageFilter.GaussianBlur(blur))
    margin = 3  # room for the blur and the shadow offset
    ink_image = _pad(ink_image, margin)
    shadow_image = ImageChops.offset(ink_image, 1, 1).filter(ImageFilter.GaussianBlur(1.2))
    opacity = float(rng.uniform(0.3, 0.9))
    ink = np.asarray(ink_image, dtype=np.float32) / 255.0 * opacity
    shadow_strength = float(rng.uniform(0.1, 0.35))
    shadow = np.asarray(shadow_image, dtype=np.float32) / 255.0 * shadow_strength
    ink[ink < _ALPHA_FLOOR] = 0.0
    shadow[shadow < _ALPHA_FLOOR] = 0.0
    ink, shadow = _trim(ink, shadow)
    font_name = font_path.name if font_path else "default"
    style = MarkStyle("ring", filled, None, font_name, opacity, blur, shadow_strength, "centre")
    return MarkSprite(ink=ink, shadow=shadow, font=font_name, style=style)


def random_handle(rng: np.random.Generator) -> str:
    """An @handle: 3-20 characters of letters, digits, '.' and '_' (the '@' not counted)."""
    length = int(rng.integers(3, 21))
    parts: list[str] = []
    while sum(len(p) for p in parts) < length:
        roll = rng.random()
        if roll < 0.55:
            parts.append(str(rng.choice(_SYLLABLES)))
        elif roll < 0.75:
            parts.append(str(int(rng.integers(0, 10_000))))
        elif roll < 0.9 and parts and parts[-1] not in "._":
            parts.append(str(rng.choice(["_", "."])))
        else:
            parts.append(str(rng.choice(list(_HANDLE_CHARS))))
    handle = "".join(parts)[:length].strip("._") or "sora"
    if rng.random() < 0.2:
        handle = handle.capitalize()
    return handle


def make_sora_mark(
    rng: np.random.Generator,
    frame_width: int,
    *,
    logos: list[str],
    fonts: list[FontFile],
    look: Look | None = None,
) -> MarkSprite:
    """A mark of the wide family, its style drawn from `logos` and `fonts` (a split's pool)
    unless `look` fixes it."""
    look = look or Look()
    logo = look.logo or str(logos[int(rng.integers(len(logos)))])
    filled = look.filled if look.filled is not None else bool(rng.random() < 0.4)
    font_file = _font_named(look.font, fonts) if look.font else pick_font(rng, fonts)
    with_handle = look.handle if look.handle is not None else bool(rng.random() < HANDLE_SHARE)
    handle = random_handle(rng) if with_handle else None
    low, high = look.opacity or OPACITY
    opacity = float(rng.uniform(low, high))
    blur = float(rng.uniform(0.0, MAX_BLUR)) if rng.random() < 0.85 else 0.0
    shadow_strength = float(rng.uniform(0.1, 0.4)) if rng.random() < 0.45 else 0.0
    align = str(rng.choice(["centre", "left", "text"]))

    text_px = 96
    font = load_font(font_file.path if font_file else None, text_px)
    word = _text(font, "Sora")
    logo_size = int(word.height * rng.uniform(1.0, 1.6))
    glyph = draw_logo(rng, logo, logo_size, filled)
    gap = int(text_px * rng.uniform(0.1, 0.3))
    line_w, line_h = glyph.width + gap + word.width, max(glyph.height, word.height)
    line_x, width, height = 0, line_w, line_h
    handle_image, handle_x, handle_y = None, 0, 0
    if handle is not None:
        small_px = int(text_px * rng.uniform(0.42, 0.62))
        handle_image = _text(
            load_font(font_file.path if font_file else None, small_px), "@" + handle
        )
        handle_y = line_h + int(text_px * rng.uniform(0.08, 0.3))
        height = handle_y + handle_image.height
        if align == "centre":
            width = max(line_w, handle_image.width)
            line_x, handle_x = (width - line_w) // 2, (width - handle_image.width) // 2
        else:
            handle_x = 0 if align == "left" else glyph.width + gap
            width = max(line_w, handle_x + handle_image.width)
    canvas = Image.new("L", (width, height), 0)
    canvas.paste(glyph, (line_x, (line_h - glyph.height) // 2), glyph)
    canvas.paste(word, (line_x + glyph.width + gap, (line_h - word.height) // 2), word)
    if handle_image is not None:
        canvas.paste(handle_image, (handle_x, handle_y), handle_image)

    target_width = max(16, round(frame_width * rng.uniform(*WIDTH_SHARE)))
    size = (target_width, max(4, round(height * target_width / width)))
    ink_image = canvas.resize(size, Image.Resampling.LANCZOS)
    if blur:
        ink_image = ink_image.filter(ImageFilter.GaussianBlur(blur))
    ink_image = _pad(ink_image, 4)
    ink = np.asarray(ink_image, dtype=np.float32) / 255.0 * opacity
    shadow = np.zeros_like(ink)
    if shadow_strength:
        dx, dy = int(rng.integers(0, 3)), int(rng.integers(1, 3))
        shadow_image = ImageChops.offset(ink_image, dx, dy).filter(
            ImageFilter.GaussianBlur(float(rng.uniform(0.8, 2.0)))
        )
        shadow = np.asarray(shadow_image, dtype=np.float32) / 255.0 * shadow_strength
    ink[ink < _ALPHA_FLOOR] = 0.0
    shadow[shadow < _ALPHA_FLOOR] = 0.0
    ink, shadow = _trim(ink, shadow)
    font_name = font_file.name if font_file else "default"
    style = MarkStyle(logo, filled, handle, font_name, opacity, blur, shadow_strength, align)
    return MarkSprite(ink=ink, shadow=shadow, font=font_name, style=style)


def _font_named(name: str, fonts: list[FontFile]) -> FontFile:
    for font in fonts:
        if font.name == name:
            return font
    raise ValueError(f"font {name!r} is not in this pool")


def _font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is not None:
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _text(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, word: str) -> Image.Image:
    left, top, right, bottom = font.getbbox(word)
    image = Image.new("L", (int(right - left) + 2, int(bottom - top) + 2), 0)
    ImageDraw.Draw(image).text((1 - left, 1 - top), word, fill=255, font=font)
    return image


def _glyph(rng: np.random.Generator, size: int) -> tuple[Image.Image, bool]:
    """A cloud/knot-like logo: overlapping circles on a ring, outlined or filled."""
    scale = 4  # supersample the circles for smooth edges
    big = size * scale
    image = Image.fromarray(ring_of_circles(rng, big))
    outline = rng.random() < 0.7  # the real mark is an outline; keep some filled ones
    if outline:
        stroke = max(3, int(big * rng.uniform(0.05, 0.09))) | 1
        inner = image.filter(ImageFilter.MinFilter(stroke))
        image = ImageChops.subtract(image, inner)
    return image.resize((size, size), Image.Resampling.LANCZOS), not outline


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
