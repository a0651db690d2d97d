"""Seeded synthetic training data: video-like clips with a moving Sora-style watermark."""

from tools.synth.clip import ClipFiles, ClipSpec, SynthFrame, generate_clip, render_frames

__all__ = ["ClipFiles", "ClipSpec", "SynthFrame", "generate_clip", "render_frames"]
