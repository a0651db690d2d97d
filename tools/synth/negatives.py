"""Distractors drawn into the scene (into the clean video too, never boxed): things that look
a little like the mark and must not be detected. White words and sentences in any font
(some semi-transparent), subtitles (white with a dark outline, bottom third, changing every
2-4 s), other logos (corner "station bugs" with words other than "Sora") and bright
specular flares. Each is an ink/shadow sprite drawn with the mark's own formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from executor.engine.frames import Box
from tools.synth.fonts import FontFile, load_font, pick_font
from tools.synth.logos import draw_logo
from tools.synth.mark import composite, visible_box

WORDS = (
    "the", "and", "you", "this", "that", "with", "from", "have", "what", "when", "where", "today",
    "night", "summer", "winter", "city", "street", "coffee", "music", "video", "live", "news",
    "sport", "world", "music", "love", "home", "open", "close", "sale", "new", "best", "hello",
    "watch", "follow", "like", "share", "story", "travel", "food", "beach", "mountain", "river",
    "light", "dark", "morning", "evening", "weekend", "friday", "monday", "happy", "birthday",
    "welcome", "thanks", "please", "stop", "go", "exit", "entry", "parking", "hotel", "cafe",
    "bar", "market", "station", "train", "bus", "airport", "gate", "free", "wifi", "menu",
    "special", "offer", "limited", "edition", "chapter", "episode", "season", "final", "score",
    "goal", "team", "player", "weather", "sunny", "cloudy", "rain", "storm", "breaking", "update",
    "camera", "action", "scene", "take", "studio", "record", "replay", "slow", "motion", "zoom",
    "soda", "solar", "sonar", "sorry", "story", "sofa", "aurora", "opera", "sonic", "nova",
)  # fmt: skip
BUG_WORDS = (
    "NEWS", "TV", "HD", "LIVE", "SPORT", "24", "ONE", "PLUS", "MAX", "CINE", "KIDS", "FM",
    "Studio", "Channel", "Vlog", "Daily", "Prime", "Nova", "Solo", "Sonic", "Orbit", "Pixel",
)  # fmt: skip


@dataclass
class _Item:
    """One distractor sprite and when/where it shows."""

    ink: np.ndarray
    shadow: np.ndarray
    start: int  # first frame
    end: int  # last frame + 1
    position: np.ndarray  # top-left at `start`, pixels
    velocity: np.ndarray  # pixels per frame


class Distractors:
    """The distractors of one clip; draw() puts frame i's into a frame and says where."""

    def __init__(
        self,
        rng: np.random.Generator,
        kinds: tuple[str, ...],
        *,
        width: int,
        height: int,
        fps: float,
        frames: int,
        fonts: list[FontFile],
        logos: list[str],
    ) -> None:
        self.kinds = kinds
        self.items: list[_Item] = []
        make = {"text": _texts, "subtitle": _subtitles, "logo": _bugs, "flare": _flares}
        for kind in kinds:
            self.items += make[kind](rng, width, height, fps, frames, fonts, logos)

    def draw(self, frame: np.ndarray, index: int) -> list[Box]:
        """Draw frame `index`'s distractors in place; their boxes (for picking hard crops)."""
        boxes = []
        size = (frame.shape[1], frame.shape[0])
        for item in self.items:
            if item.start <= index < item.end:
                x, y = (int(v) for v in item.position + item.velocity * (index - item.start))
                composite(frame, item.ink, item.shadow, x, y)
                box = visible_box(item.ink, item.shadow, x, y, size)
                if box is not None:
                    boxes.append(box)
        return boxes


def _sentence(rng: np.random.Generator, low: int, high: int) -> str:
    words = [str(rng.choice(WORDS)) for _ in range(int(rng.integers(low, high + 1)))]
    text = " ".join(words)
    roll = rng.random()
    if roll < 0.3:
        return text.capitalize()
    if roll < 0.45:
        return text.upper()
    if roll < 0.55:
        return text.title()
    return text


def _text_sprite(
    rng: np.random.Generator,
    text: str,
    font: FontFile | None,
    px: int,
    opacity: float,
    outline: float,
) -> tuple[np.ndarray, np.ndarray]:
    """White text `px` high as ink, with an `outline`-strong dark rim as shadow."""
    face = load_font(font.path if font else None, max(6, px))
    left, top, right, bottom = face.getbbox(text)
    pad = max(3, px // 6)
    image = Image.new("L", (int(right - left) + 2 * pad, int(bottom - top) + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, fill=255, font=face)
    blur = float(rng.uniform(0.0, 1.0))
    if blur > 0.2:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    ink = np.asarray(image, dtype=np.float32) / 255.0
    shadow = np.zeros_like(ink)
    if outline:
        size = max(3, px // 8) | 1
        rim = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
        shadow = cv2.GaussianBlur(rim, (0, 0), 0.8) * outline
    ink = ink * opacity
    ink[ink < 1 / 255] = 0
    shadow[shadow < 1 / 255] = 0
    return ink, shadow


def _texts(
    rng: np.random.Generator,
    width: int,
    height: int,
    fps: float,
    frames: int,
    fonts: list[FontFile],
    logos: list[str],
) -> list[_Item]:
    """One to three words or sentences, white, often semi-transparent, anywhere."""
    items = []
    for _ in range(int(rng.integers(1, 4))):
        text = _sentence(rng, 1, 6)
        px = int(height * rng.uniform(0.025, 0.08))
        opacity = float(rng.uniform(0.3, 1.0))
        outline = float(rng.uniform(0.2, 0.6)) if rng.random() < 0.3 else 0.0
        ink, shadow = _text_sprite(rng, text, pick_font(rng, fonts), px, opacity, outline)
        h, w = ink.shape
        low_x = -0.1 * w
        position = np.array(
            [rng.uniform(low_x, max(low_x, width - 0.9 * w)), rng.uniform(0, max(0, height - h))]
        )
        velocity = np.zeros(2)
        if rng.random() < 0.3:
            velocity = rng.uniform(-1.5, 1.5, size=2) * 30 / fps
        start, end = _window(rng, frames, fps)
        items.append(_Item(ink, shadow, start, end, position, velocity))
    return items


def _window(rng: np.random.Generator, frames: int, fps: float) -> tuple[int, int]:
    """The whole clip, or a stretch of at least a second of it."""
    if rng.random() < 0.5:
        return 0, frames
    start = int(rng.integers(0, max(1, frames - int(fps))))
    return start, min(frames, start + int(fps * rng.uniform(1.0, 6.0)))


def _subtitles(
    rng: np.random.Generator,
    width: int,
    height: int,
    fps: float,
    frames: int,
    fonts: list[FontFile],
    logos: list[str],
) -> list[_Item]:
    """Lines in the bottom third, centred, each for 2-4 s, sometimes with gaps."""
    font = pick_font(rng, fonts)
    px = int(height * rng.uniform(0.035, 0.065))
    outline = float(rng.uniform(0.5, 1.0))
    bottom = height * rng.uniform(0.88, 0.96)
    items = []
    frame = int(rng.integers(0, max(1, int(fps))))
    while frame < frames:
        length = int(fps * rng.uniform(2.0, 4.0))
        text = _sentence(rng, 2, 8)
        ink, shadow = _text_sprite(rng, text, font, px, 1.0, outline)
        h, w = ink.shape
        if w > width * 0.95:  # too long for one line: shorter text, same size
            text = " ".join(text.split()[:3])
            ink, shadow = _text_sprite(rng, text, font, px, 1.0, outline)
            h, w = ink.shape
        position = np.array([(width - w) / 2, bottom - h])
        items.append(_Item(ink, shadow, frame, min(frames, frame + length), position, np.zeros(2)))
        frame += length + (int(fps * rng.uniform(0.2, 1.0)) if rng.random() < 0.4 else 0)
    return items


def _bugs(
    rng: np.random.Generator,
    width: int,
    height: int,
    fps: float,
    frames: int,
    fonts: list[FontFile],
    logos: list[str],
) -> list[_Item]:
    """A corner logo: a shape with a word other than "Sora", a shape alone or a word alone."""
    px = 96
    font = pick_font(rng, fonts)
    parts = []
    kind = rng.random()
    if kind < 0.7:
        shape = str(rng.choice(list(logos) + ["circle", "square"]))
        size = int(px * rng.uniform(0.9, 1.5))
        if shape in ("circle", "square"):
            image = Image.new("L", (size, size), 0)
            draw = ImageDraw.Draw(image)
            (draw.ellipse if shape == "circle" else draw.rectangle)(
                (2, 2, size - 3, size - 3), fill=255
            )
            parts.append(image)
        else:
            parts.append(draw_logo(rng, shape, size, bool(rng.random() < 0.5)))
    if kind >= 0.35:
        word = str(rng.choice(BUG_WORDS))
        face = load_font(font.path if font else None, px)
        left, top, right, bottom = face.getbbox(word)
        image = Image.new("L", (int(right - left) + 4, int(bottom - top) + 4), 0)
        ImageDraw.Draw(image).text((2 - left, 2 - top), word, fill=255, font=face)
        parts.append(image)
    gap = int(px * 0.2)
    canvas = Image.new(
        "L",
        (sum(p.width for p in parts) + gap * (len(parts) - 1), max(p.height for p in parts)),
        0,
    )
    x = 0
    for part in parts:
        canvas.paste(part, (x, (canvas.height - part.height) // 2))
        x += part.width + gap
    target = max(12, int(width * rng.uniform(0.05, 0.16)))
    canvas = canvas.resize(
        (target, max(4, int(canvas.height * target / canvas.width))), Image.Resampling.LANCZOS
    )
    canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 1.0))))
    ink = np.asarray(canvas, dtype=np.float32) / 255.0 * float(rng.uniform(0.3, 0.85))
    ink[ink < 1 / 255] = 0
    shadow = np.zeros_like(ink)
    h, w = ink.shape
    margin_x, margin_y = width * rng.uniform(0.01, 0.05), height * rng.uniform(0.01, 0.06)
    corner = int(rng.integers(4))
    x0 = margin_x if corner % 2 == 0 else width - w - margin_x
    y0 = margin_y if corner < 2 else height - h - margin_y
    return [_Item(ink, shadow, 0, frames, np.array([x0, y0]), np.zeros(2))]


def _flares(
    rng: np.random.Generator,
    width: int,
    height: int,
    fps: float,
    frames: int,
    fonts: list[FontFile],
    logos: list[str],
) -> list[_Item]:
    """Bright specular patches and streaks that drift (sun glints, reflections)."""
    items = []
    for _ in range(int(rng.integers(1, 4))):
        size = int(height * rng.uniform(0.03, 0.2))
        ink = np.zeros((size * 2, size * 2), np.float32)
        if rng.random() < 0.5:
            cv2.circle(ink, (size, size), max(1, size // 2), 1.0, -1)
        else:  # a streak
            axes = (int(size * 0.95), max(1, int(size * rng.uniform(0.04, 0.15))))
            cv2.ellipse(ink, (size, size), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        ink = np.asarray(
            cv2.GaussianBlur(ink, (0, 0), max(1.0, size * rng.uniform(0.1, 0.3))), dtype=np.float32
        )
        ink = ink / max(float(ink.max()), 1e-6) * float(rng.uniform(0.5, 1.0))
        ink[ink < 1 / 255] = 0
        position = np.array([rng.uniform(-size, width - size), rng.uniform(-size, height - size)])
        velocity = rng.uniform(-3, 3, size=2) * 30 / fps
        start, end = _window(rng, frames, fps)
        items.append(_Item(ink, np.zeros_like(ink), start, end, position, velocity))
    return items
