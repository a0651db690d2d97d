"""Every installed font that can write the mark ("Sora", "@handle") and the distractor text.

Fonts come from the system (/usr/share/fonts: DejaVu, Liberation, FreeFont, Noto, URW,
Open Sans, Roboto when their Debian packages are installed); nothing is shipped. A font
counts only when its character map covers every character the generator writes, so symbol
fonts and the many Noto fonts for other scripts drop out. Choosing goes by family first, so
Noto's hundreds of files do not drown the rest.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont, TTLibError
from loguru import logger
from PIL import ImageFont

FONT_ROOT = Path("/usr/share/fonts")
FONT_SUFFIXES = (".ttf", ".otf")
# Everything the mark, the handles and the distractor text may contain.
NEEDED_CHARS = string.ascii_letters + string.digits + "@._-,!?'&:"
# Families whose letters are pictures or formula parts (D050000L is URW's dingbats).
_NOT_TEXT_FAMILIES = ("Symbol", "Dingbat", "Emoji", "Math", "D050000L")


@dataclass(frozen=True)
class FontFile:
    """One font file and the family it belongs to (the unit of the held-out split)."""

    path: Path
    family: str

    @property
    def name(self) -> str:
        return self.path.name


@lru_cache(maxsize=4)
def installed_fonts(root: Path = FONT_ROOT) -> tuple[FontFile, ...]:
    """Usable fonts under `root`, sorted by file name (a stable order for seeded choices)."""
    found: list[FontFile] = []
    for path in sorted(root.rglob("*"), key=lambda p: (p.name, str(p))):
        if path.suffix.lower() not in FONT_SUFFIXES or not path.is_file():
            continue
        family = _family_if_usable(path)
        if family is not None:
            found.append(FontFile(path, family))
    # One file per name: the same font installed twice would count twice.
    unique: dict[str, FontFile] = {}
    for font in found:
        unique.setdefault(font.name, font)
    fonts = tuple(unique.values())
    logger.debug("{} usable fonts in {} families", len(fonts), len({f.family for f in fonts}))
    return fonts


def families(fonts: tuple[FontFile, ...] | list[FontFile]) -> dict[str, list[FontFile]]:
    """Fonts grouped by family, families sorted by name."""
    grouped: dict[str, list[FontFile]] = {}
    for font in sorted(fonts, key=lambda f: (f.family, f.name)):
        grouped.setdefault(font.family, []).append(font)
    return grouped


def pick_font(rng: np.random.Generator, fonts: list[FontFile]) -> FontFile | None:
    """A family at random, then a file of it; None when there are no fonts at all."""
    if not fonts:
        return None
    grouped = families(fonts)
    names = list(grouped)
    members = grouped[names[int(rng.integers(len(names)))]]
    return members[int(rng.integers(len(members)))]


@lru_cache(maxsize=256)
def load_font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A Pillow font at `size` px; Pillow's built-in one when `path` is None."""
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(path), size)


def _family_if_usable(path: Path) -> str | None:
    """The font's family name (typographic family first), or None when it cannot write
    NEEDED_CHARS or cannot be read."""
    try:
        with TTFont(str(path), lazy=True) as font:
            cmap = font.getBestCmap() or {}
            if any(ord(char) not in cmap for char in NEEDED_CHARS):
                return None
            names = font["name"]
            family = names.getDebugName(16) or names.getDebugName(1)
    except (TTLibError, KeyError, OSError, AssertionError) as error:
        logger.debug("skipping font {}: {}", path, error)
        return None
    if not family or any(word in family for word in _NOT_TEXT_FAMILIES):
        return None
    return family
