"""The held-out split: photos, fonts and logo shapes that training never sees, and the
held-out clips a benchmark scores the detector (and the cleaner) on.

Rules (fixed, by name, so every machine with the same packages agrees):
- photos: the whole mate-backgrounds package, plus every picture whose key (a wallpaper
  theme, or a file name without its -l/-d suffix; see photos.photo_key) hashes into the
  held-out fifth (sha1 of the key, first byte % 5 == 0);
- fonts: the families in HELDOUT_FONT_FAMILIES (Open Sans, URW Bookman), plus any file whose
  name hashes into the held-out tenth;
- logo shapes: HELDOUT_LOGOS ("trefoil") never appear in training clips; held-out clips
  draw from every shape, the held-out one weighted to about a third of them;
- seeds: evaluation clips use seeds >= EVAL_SEED (1_000_000); training refuses them.

`heldout_clips()` is what a benchmark calls; generate each with
`tools.synth.generate_clip(out_dir, clip.seed, clip.index, clip.spec)`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import lru_cache

from tools.synth.fonts import FontFile, installed_fonts
from tools.synth.logos import LOGO_NAMES
from tools.synth.photos import PhotoFile, installed_photos
from tools.synth.spec import ClipSpec, Look

EVAL_SEED = 1_000_000
HELDOUT_PHOTO_PACKAGES = ("mate-backgrounds",)
HELDOUT_FONT_FAMILIES = ("Open Sans", "URW Bookman")
HELDOUT_LOGOS = ("trefoil",)
_PHOTO_MODULUS, _FONT_MODULUS = 5, 10


@dataclass(frozen=True)
class Pool:
    """What one side of the split may draw from."""

    photos: tuple[PhotoFile, ...]
    fonts: tuple[FontFile, ...]
    logos: tuple[str, ...]  # may repeat a name to weight it


def _hashed_out(name: str, modulus: int) -> bool:
    return hashlib.sha1(name.encode()).digest()[0] % modulus == 0


def photo_is_heldout(photo: PhotoFile) -> bool:
    return photo.package in HELDOUT_PHOTO_PACKAGES or _hashed_out(photo.key, _PHOTO_MODULUS)


def font_is_heldout(font: FontFile) -> bool:
    # "Open Sans Condensed" belongs with "Open Sans": a family and its offshoots go together.
    family = any(font.family == f or font.family.startswith(f + " ") for f in HELDOUT_FONT_FAMILIES)
    return family or _hashed_out(font.name, _FONT_MODULUS)


def logo_is_heldout(logo: str) -> bool:
    return logo in HELDOUT_LOGOS


@lru_cache(maxsize=4)
def pool(split: str) -> Pool:
    """The photos, fonts and logos of `split` ("train" or "heldout") installed here."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    held = split == "heldout"
    return Pool(
        photos=tuple(p for p in installed_photos() if photo_is_heldout(p) == held),
        fonts=tuple(f for f in installed_fonts() if font_is_heldout(f) == held),
        logos=(*HELDOUT_LOGOS, *HELDOUT_LOGOS, *LOGO_NAMES)
        if held
        else tuple(name for name in LOGO_NAMES if not logo_is_heldout(name)),
    )


@dataclass(frozen=True)
class HeldoutClip:
    """One benchmark clip: generate_clip(out_dir, seed, index, spec) makes it; `name` says
    which case it covers and `tags` lets results be grouped (e.g. "opacity:low")."""

    name: str
    seed: int
    index: int
    spec: ClipSpec
    tags: tuple[str, ...]


# (name, frame size, Look, audio): each case fixes what it is about and leaves the rest to
# the seed; the held-out logo and fonts get cases of their own, the others appear randomly.
_CASES: tuple[tuple[str, tuple[int, int], Look, bool], ...] = (
    ("photo-handle-landscape", (1280, 720), Look(background="photo", handle=True), False),
    ("photo-portrait", (704, 1280), Look(background="photo"), False),
    ("procedural-nohandle", (1280, 720), Look(background="procedural", handle=False), False),
    ("heldout-logo", (1280, 720), Look(logo=HELDOUT_LOGOS[0]), False),
    ("opacity-low", (704, 1280), Look(opacity=(0.35, 0.5), background="photo"), False),
    ("opacity-mid", (854, 480), Look(opacity=(0.5, 0.75)), False),
    ("opacity-high", (1280, 720), Look(opacity=(0.75, 0.9), background="photo"), False),
    ("edge", (1280, 720), Look(edge=True, background="photo"), False),
    ("edge-portrait", (704, 1280), Look(edge=True), False),
    ("no-mark-text-subtitles", (1280, 720), Look(mark=False, background="photo",
                                                 negatives=("text", "subtitle")), False),
    ("audio-small", (640, 360), Look(), True),
    ("distractors-logo-flare", (1280, 720), Look(negatives=("logo", "flare", "text")), False),
    ("fade", (854, 480), Look(fade=True, background="photo"), False),
    ("photo-nohandle-portrait", (720, 1280), Look(background="photo", handle=False), False),
    ("small-portrait", (360, 640), Look(), False),
    ("filled-logo", (1280, 720), Look(filled=True), False),
)  # fmt: skip


def heldout_clips(
    n: int = 16, seed: int = EVAL_SEED, *, seconds: float = 6.0, fps: int = 30
) -> list[HeldoutClip]:
    """`n` held-out clip specs of the "sora" family, covering (in this order, then cycling
    with new indices): photo and procedural backgrounds, the handle line with and without,
    the held-out logo and each held-out font family, opacity low (<0.5) / mid / high
    (>0.75), a mark against the edge (landscape and portrait), a real-photo clip with NO
    mark but white text and subtitles, distractor logos and flares, fades, a clip with
    audio, and sizes 1280x720, 704x1280, 720x1280, 854x480, 640x360, 360x640.

    Everything comes from the held-out pool (split="heldout": photos, fonts and logos never
    used in training) and seeds >= 1_000_000. The same arguments give the same clips on any
    machine with the same wallpaper and font packages installed (photo cases fall back to
    procedural scenes, with a warning, where none are).
    """
    if seed < EVAL_SEED:
        raise ValueError(f"held-out seeds start at {EVAL_SEED}")
    cases = list(_CASES)
    for family in HELDOUT_FONT_FAMILIES:
        font = next((f for f in pool("heldout").fonts if f.family == family), None)
        if font is not None:
            tag = family.lower().replace(" ", "-")
            cases.insert(4, (f"heldout-font-{tag}", (1280, 720), Look(font=font.name), False))
    clips = []
    for index in range(n):
        name, (width, height), look, audio = cases[index % len(cases)]
        if look.mark is None:
            look = replace(look, mark=True)  # every case but the no-mark one has the mark
        spec = ClipSpec(
            width=width,
            height=height,
            seconds=seconds,
            fps=fps,
            audio=audio,
            family="sora",
            split="heldout",
            look=look,
        )
        clips.append(HeldoutClip(name, seed, index, spec, _tags(name, spec)))
    return clips


def _tags(name: str, spec: ClipSpec) -> tuple[str, ...]:
    look = spec.look
    tags = [f"case:{name}", "portrait" if spec.height > spec.width else "landscape"]
    if look.opacity is not None:
        tags.append(
            "opacity:"
            + ("low" if look.opacity[1] <= 0.5 else "high" if look.opacity[0] >= 0.75 else "mid")
        )
    if look.mark is False:
        tags.append("no-mark")
    if spec.audio:
        tags.append("audio")
    return tuple(tags)


def with_spec(clip: HeldoutClip, **changes: object) -> HeldoutClip:
    """The same clip with some spec fields changed (e.g. seconds, fps for a quick run)."""
    return replace(clip, spec=replace(clip.spec, **changes))  # type: ignore[arg-type]
