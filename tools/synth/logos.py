"""Logo shapes for the mark and for distractor logos: the real Sora logo changes between
versions (a cloud, a knot, outlined or filled), so the detector must not learn one shape.

Each shape is drawn white on black in an "L" image `size` x `size`, supersampled 4x for
smooth edges. `filled=False` gives an outline (a stroke along the silhouette, or a hollow
ribbon for the curve shapes). Held-out shapes are named in tools.synth.split.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw

_SUPERSAMPLE = 4

ShapeDrawer = Callable[[np.random.Generator, int], np.ndarray]


def draw_logo(rng: np.random.Generator, name: str, size: int, filled: bool) -> Image.Image:
    """Logo `name` as an "L" image `size` x `size` (white shape, black elsewhere)."""
    big = size * _SUPERSAMPLE
    drawer = LOGOS[name]
    mask = drawer(rng, big)  # uint8 0/255, big x big, filled silhouette or ribbon
    if not filled:
        stroke = max(3, int(big * rng.uniform(0.05, 0.09))) | 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (stroke, stroke))
        mask = cv2.subtract(mask, cv2.erode(mask, kernel))
    image = Image.fromarray(mask)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _canvas(big: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (big, big), 0)
    return image, ImageDraw.Draw(image)


def ring_of_circles(rng: np.random.Generator, big: int) -> np.ndarray:
    """Overlapping circles on a ring (the generator's original glyph)."""
    image, draw = _canvas(big)
    lobes = int(rng.integers(3, 7))
    ring = big * rng.uniform(0.14, 0.22)
    radius = big * rng.uniform(0.2, 0.28)
    phase = rng.uniform(0, 2 * np.pi)
    centre = big / 2
    for k in range(lobes):
        angle = phase + 2 * np.pi * k / lobes
        cx, cy = centre + ring * np.cos(angle), centre + ring * np.sin(angle)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
    return np.asarray(image)


def _cloud(rng: np.random.Generator, big: int) -> np.ndarray:
    """A cloud: a flat-bottomed base with two to four puffs on top."""
    image, draw = _canvas(big)
    base_top, base_bottom = big * rng.uniform(0.5, 0.58), big * rng.uniform(0.72, 0.8)
    left, right = big * rng.uniform(0.06, 0.14), big * rng.uniform(0.86, 0.94)
    radius = (base_bottom - base_top) / 2
    draw.rounded_rectangle((left, base_top, right, base_bottom), radius=radius, fill=255)
    puffs = int(rng.integers(2, 5))
    xs = np.linspace(left + radius * 1.2, right - radius * 1.2, puffs)
    for x in xs:
        r = big * rng.uniform(0.13, 0.24)
        cy = base_top + radius * rng.uniform(0.2, 0.8)
        draw.ellipse((x - r, cy - r, x + r, cy + r), fill=255)
    return np.asarray(image)


def _curve_ribbon(big: int, points: np.ndarray, width: float) -> np.ndarray:
    """A closed curve (N x 2, in [-1, 1]) drawn as a ribbon `width` px wide, fitted to the
    canvas."""
    span = max(float(np.ptp(points[:, 0])), float(np.ptp(points[:, 1])))
    centre = (points.max(axis=0) + points.min(axis=0)) / 2
    scale = (big - 2 * width - 4) / span
    pixels = (points - centre) * scale + big / 2
    mask = np.zeros((big, big), np.uint8)
    cv2.polylines(
        mask, [np.round(pixels).astype(np.int32)], True, 255, int(width), lineType=cv2.LINE_AA
    )
    return mask


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, -s], [s, c]])


def _knot(rng: np.random.Generator, big: int) -> np.ndarray:
    """An infinity-like loop (a lemniscate), a little tilted."""
    t = np.linspace(0, 2 * np.pi, 400)
    denominator = 1 + np.sin(t) ** 2
    squash = rng.uniform(0.8, 1.4)
    points = np.stack([np.cos(t) / denominator, squash * np.sin(t) * np.cos(t) / denominator], 1)
    points = _rotate(points, rng.uniform(-0.5, 0.5))
    return _curve_ribbon(big, points, big * rng.uniform(0.08, 0.14))


def _trefoil(rng: np.random.Generator, big: int) -> np.ndarray:
    """A trefoil knot's projection: three interlaced loops."""
    t = np.linspace(0, 2 * np.pi, 600)
    points = np.stack([np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t)], 1)
    points = _rotate(points, rng.uniform(0, 2 * np.pi))
    return _curve_ribbon(big, points, big * rng.uniform(0.06, 0.1))


def _blob(rng: np.random.Generator, big: int) -> np.ndarray:
    """A rounded irregular blob: a circle with a few smooth radial bumps."""
    theta = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    radius = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        radius += rng.uniform(0, 0.12) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    radius *= big * 0.45 / radius.max()
    points = np.stack([big / 2 + radius * np.cos(theta), big / 2 + radius * np.sin(theta)], 1)
    mask = np.zeros((big, big), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    return mask


def _spark(rng: np.random.Generator, big: int) -> np.ndarray:
    """A star / spark with four to six points and curved sides."""
    points_count = int(rng.integers(4, 7))
    sharpness = rng.uniform(1.5, 4.0)
    inner = rng.uniform(0.2, 0.45)
    theta = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    wave = np.abs(np.cos(points_count * theta / 2)) ** sharpness
    radius = big * 0.47 * (inner + (1 - inner) * wave)
    phase = rng.uniform(0, 2 * np.pi)
    points = np.stack(
        [big / 2 + radius * np.cos(theta + phase), big / 2 + radius * np.sin(theta + phase)], 1
    )
    mask = np.zeros((big, big), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    return mask


def _petals(rng: np.random.Generator, big: int) -> np.ndarray:
    """A flower: three to six ellipses turned about the centre."""
    mask = np.zeros((big, big), np.uint8)
    count = int(rng.integers(3, 7))
    length, width = big * rng.uniform(0.2, 0.25), big * rng.uniform(0.08, 0.14)
    phase = rng.uniform(0, 180)
    for k in range(count):
        angle = phase + 180.0 * k / count
        cv2.ellipse(
            mask, (big // 2, big // 2), (int(length * 1.9), int(width)), angle, 0, 360, 255, -1
        )
    return mask


LOGOS: dict[str, ShapeDrawer] = {
    "ring": ring_of_circles,
    "cloud": _cloud,
    "knot": _knot,
    "trefoil": _trefoil,
    "blob": _blob,
    "spark": _spark,
    "petals": _petals,
}
LOGO_NAMES: tuple[str, ...] = tuple(LOGOS)
