"""Video-like backgrounds: a procedural canvas seen through a panning, zooming camera, with
moving objects, grain and a scene brightness (dark to bright).

Everything heavy (the canvas, the grain field) is made once per clip; a frame is one affine
crop of the canvas plus a few shapes, so a 640x360 frame costs a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Camera and object speeds are in frame-widths per second; "fast" scenes use the top end.
_PAN_SPEED = {False: (0.0, 0.08), True: (0.25, 0.6)}
_OBJECT_SPEED = {False: (0.05, 0.3), True: (0.6, 1.5)}


@dataclass
class _MovingObject:
    shape: str
    colour: tuple[int, int, int]
    size: float  # fraction of the frame height
    start: np.ndarray  # fractions of the frame size
    velocity: np.ndarray  # fractions of the frame size per second


class Scene:
    """Renders frame i of one synthetic shot; same rng state in, same pixels out."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, fps: float) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.fast = bool(rng.random() < 0.25)
        # Mostly ordinary exposure, with dark and bright scenes (the mark is white, so bright
        # backgrounds are the hard case for detection and dark ones for inpainting).
        self.gain = float(rng.choice([0.25, 0.6, 1.0, 1.0, 1.0, 1.35, 1.7]))
        self.grain = float(rng.choice([0.0, 2.0, 4.0, 8.0]))
        self.canvas = _canvas(rng, int(width * 1.6), int(height * 1.6))
        self.pan_start = rng.uniform(0.0, 0.35, size=2)
        low, high = _PAN_SPEED[self.fast]
        angle = rng.uniform(0, 2 * np.pi)
        self.pan_velocity = rng.uniform(low, high) * np.array([np.cos(angle), np.sin(angle)])
        self.zoom_start = rng.uniform(1.0, 1.3)
        self.zoom_rate = rng.uniform(-0.05, 0.05)
        self.objects = [_moving_object(rng, self.fast) for _ in range(int(rng.integers(0, 5)))]
        self.noise = rng.normal(0.0, 1.0, size=(height + 64, width + 64, 1)).astype(np.float32)
        self.noise_offsets = rng.integers(0, 64, size=(4096, 2))

    def render(self, index: int) -> np.ndarray:
        """HxWx3 uint8 RGB for frame `index`."""
        t = index / self.fps
        image = self._camera_view(t)
        draw = ImageDraw.Draw(image)
        for obj in self.objects:
            _draw_object(draw, obj, t, self.width, self.height)
        pixels = np.asarray(image, dtype=np.float32) * self.gain
        if self.grain:
            oy, ox = self.noise_offsets[index % len(self.noise_offsets)]
            pixels += self.grain * self.noise[oy : oy + self.height, ox : ox + self.width]
        return np.clip(pixels, 0, 255).astype(np.uint8)

    def _camera_view(self, t: float) -> Image.Image:
        """Crop the canvas where the camera looks at time t, resized to the frame."""
        canvas_w, canvas_h = self.canvas.size
        zoom = float(np.clip(self.zoom_start + self.zoom_rate * t, 1.0, 1.45))
        view_w, view_h = canvas_w / 1.6 / zoom, canvas_h / 1.6 / zoom
        # Bounce the pan back and forth inside the canvas (a triangle wave) so long clips
        # never run off its edge.
        travel = self.pan_start + self.pan_velocity * t * np.array([1.0, self.width / self.height])
        travel = np.abs((travel + 1.0) % 2.0 - 1.0)
        x0 = float(travel[0]) * (canvas_w - view_w)
        y0 = float(travel[1]) * (canvas_h - view_h)
        return self.canvas.transform(
            (self.width, self.height),
            Image.Transform.EXTENT,
            (x0, y0, x0 + view_w, y0 + view_h),
            resample=Image.Resampling.BILINEAR,
        )


def _canvas(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A gradient, multi-octave colour noise and a scattering of flat shapes."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xx * np.cos(angle) + yy * np.sin(angle)) / max(width, height)
    ramp = (ramp - ramp.min()) / max(1e-6, float(np.ptp(ramp)))
    colour_a, colour_b = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    pixels = colour_a + ramp[..., None] * (colour_b - colour_a)
    for cells, weight in ((4, 60.0), (12, 30.0), (40, 15.0)):
        grid = rng.uniform(-1, 1, size=(cells, max(2, cells * width // height), 3))
        octave = Image.fromarray(((grid + 1) * 127.5).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        pixels += (np.asarray(octave, dtype=np.float32) / 127.5 - 1.0) * weight
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 15))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        size = rng.uniform(0.03, 0.25) * height
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        box = (x, y, x + size * rng.uniform(0.5, 3.0), y + size)
        if rng.random() < 0.5:
            draw.rectangle(box, fill=colour)
        else:
            draw.ellipse(box, fill=colour)
    # Real footage is rarely razor sharp: soften the canvas a little.
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 2.0))))


def _moving_object(rng: np.random.Generator, fast: bool) -> _MovingObject:
    low, high = _OBJECT_SPEED[fast]
    angle = rng.uniform(0, 2 * np.pi)
    return _MovingObject(
        shape=str(rng.choice(["ellipse", "rectangle"])),
        colour=_colour(rng),
        size=float(rng.uniform(0.05, 0.3)),
        start=rng.uniform(0.0, 1.0, size=2),
        velocity=rng.uniform(low, high) * np.array([np.cos(angle), np.sin(angle)]),
    )


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    red, green, blue = (int(c) for c in rng.integers(0, 256, size=3))
    return red, green, blue


def _draw_object(draw: ImageDraw.ImageDraw, obj: _MovingObject, t: float, w: int, h: int) -> None:
    # Objects wrap around the frame edges, so they keep crossing the picture (and the mark).
    cx, cy = (obj.start + obj.velocity * t) % 1.2 - 0.1
    half = obj.size * h / 2
    box = (cx * w - half, cy * h - half, cx * w + half, cy * h + half)
    if obj.shape == "ellipse":
        draw.ellipse(box, fill=obj.colour)
    else:
        draw.rectangle(box, fill=obj.colour)
