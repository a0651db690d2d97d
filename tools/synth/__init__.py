"""Seeded synthetic training data: video-like clips with a moving Sora-style watermark."""

from tools.synth.clip import (
    ClipFiles,
    ClipSpec,
    Look,
    SynthFrame,
    generate_clip,
    mark_of,
    render_frames,
    style_of,
)
from tools.synth.split import HeldoutClip, heldout_clips

__all__ = [
    "ClipFiles",
    "ClipSpec",
    "HeldoutClip",
    "Look",
    "SynthFrame",
    "generate_clip",
    "heldout_clips",
    "mark_of",
    "render_frames",
    "style_of",
]
