"""What a clip should look like: its size and encoding (ClipSpec) and, for the "sora" family,
optional fixed choices (Look) that a benchmark uses to cover each case on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field

FAMILIES = ("classic", "sora")
SPLITS = ("train", "heldout")
NEGATIVE_KINDS = ("text", "subtitle", "logo", "flare")


@dataclass(frozen=True)
class Look:
    """Choices a clip of the "sora" family must make; None leaves a choice to the seed.

    opacity: (low, high) range the mark's opacity is drawn from. edge: True puts one stay
    against a frame edge, False keeps every stay off the edges. mark=False makes a clip
    without any mark (distractors only), True one that surely has it (None: a few clips of
    the seed's choosing have none). negatives: exactly these distractor kinds."""

    background: str | None = None  # "photo" | "procedural"
    logo: str | None = None
    filled: bool | None = None
    font: str | None = None  # a font file name, e.g. "OpenSans-Regular.ttf"
    handle: bool | None = None
    opacity: tuple[float, float] | None = None
    edge: bool | None = None
    fade: bool | None = None
    mark: bool | None = None
    negatives: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ClipSpec:
    """Size, length and encoding of a clip, and which generator draws it.

    family "classic" is the original generator (ring glyph + "Sora" in DejaVu over a
    procedural scene; the shipped detector's training data); "sora" is the wide family (many
    logos and fonts, @handle line, photos, edges, fades, distractors). split picks the pool
    of photos, fonts and logos: "heldout" ones are never used for training."""

    width: int = 640
    height: int = 360
    seconds: float = 3.0
    fps: int = 30
    audio: bool = False
    crf: int = 18
    preset: str = "veryfast"
    family: str = "classic"
    split: str = "train"
    look: Look = field(default_factory=Look)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, not {self.family!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {self.split!r}")

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))
