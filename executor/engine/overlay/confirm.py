"""Is there really a mark? A detected segment is kept only when its frames agree.

The mark is a fixed semi-transparent overlay: its edges stay put in the frame while the
picture under it changes, and it brightens what it covers. So, over a run's crops:

- *moving picture* (the ring around the box changes): the per-pixel median of the luma
  gradients (Dekel et al.'s estimate of the overlay's gradients: background edges move and
  cancel out, the overlay's stay) must hold a clear share of the box's edge energy, and
  several times the ring's share. Scene text or a logo moving with the camera has none;
- *still picture*: the frames just before the mark came or after it left must differ from
  the run's inside the box (new edges, brighter) and not around it. Writing that belongs to
  the scene is there before and after: refused;
- *still picture, no such frames* (the mark never moves over a still shot): nothing in the
  pixels can tell, so the detector's own confidence decides.

Anything refused leaves its frames exactly as decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from executor.engine.overlay.evidence import RunEvidence
from executor.engine.overlay.matte import FADE_TRIM, known_mask

MIN_FIXED_SHARE = 0.08  # share of the box's edge energy that stays put
RING_RATIO = 2.0  # ... and how many times the ring's share it must be
MIN_SCORE = 0.4  # the detector's mean confidence when the pixels cannot tell
# ... and the least it needs even when they show a fixed overlay: subtitles, captions and UI
# labels are fixed overlays too ("CLOSE" in a corner scored 0.27 on a no-mark clip), and
# only the detector tells the mark from them.
MIN_OVERLAY_SCORE = 0.3
MAX_FIXED_RING = 0.25  # past this share of fixed edges around the box, the picture is "still"
MIN_CROPS = 5  # frames a run needs before its pixels are asked
MIN_STILL_SHARE = 0.4  # over a still picture most of an overlay's edge energy holds still
# Luma levels of change around the box from which the picture counts as moving: even a
# hand-held shake of a pixel moves textured surroundings this much, and a fixed overlay's
# edges then stand out from the scene's.
MIN_CHANGE = 2.0


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    figures: dict[str, float] = field(default_factory=dict)


def confirm(run: RunEvidence | None, score: float) -> Verdict:
    """Whether `run` (the crops of a detected segment) shows an overlay; `score` is the
    detector's mean confidence over the segment."""
    if run is None or len(run.crops) < MIN_CROPS:
        return _by_score(score, "too few frames to look at")
    stack = run.stack(trim=FADE_TRIM)
    box = run.box_in_region
    known = known_mask(stack.shape[1:], box)
    inside = np.zeros_like(known)
    inside[box[1] : box[3], box[0] : box[2]] = True
    if known.sum() < 0.1 * known.size:
        return _by_score(score, "no picture around the box to compare with")
    ring_change = float(np.median(stack.std(axis=0)[known]))
    figures = _fixed_edges(run, inside, known) | {"ring_change": ring_change}
    if ring_change >= MIN_CHANGE and figures["fixed_ring"] < MAX_FIXED_RING:
        if figures["fixed_box"] >= MIN_FIXED_SHARE and figures["fixed_box"] >= (
            RING_RATIO * figures["fixed_ring"]
        ):
            if score < MIN_OVERLAY_SCORE:
                return Verdict(
                    False,
                    f"a fixed overlay, but the detector's confidence {score:.2f} < "
                    f"{MIN_OVERLAY_SCORE}: other writing",
                    figures | {"score": score},
                )
            return Verdict(True, "fixed edges over a moving picture", figures)
        return Verdict(False, "no fixed overlay: its edges move with the picture", figures)
    # Much of the picture around holds still: its edges cannot tell an overlay from the
    # scene. What is in the box must at least hold still too ...
    if figures["fixed_box"] < MIN_STILL_SHARE:
        return Verdict(False, "no fixed overlay: what is in the box moves", figures)
    # ... and the frames without it (or else the detector) decide.
    controls = run.control_stack()
    if controls is not None:
        return _change_against_controls(stack, controls, inside, known, ring_change, score)
    return _by_score(score, f"still picture (change {ring_change:.1f}) and no frame without it")


def _fixed_edges(run: RunEvidence, inside: np.ndarray, known: np.ndarray) -> dict[str, float]:
    """The share of edge energy that stays put over the run, in the box and around it."""
    fixed, total = run.edges(trim=FADE_TRIM)
    return {
        "fixed_box": float(fixed[inside].sum() / total[inside].sum()),
        "fixed_ring": float(fixed[known].sum() / total[known].sum()),
    }


def _change_against_controls(
    stack: np.ndarray,
    controls: np.ndarray,
    inside: np.ndarray,
    known: np.ndarray,
    ring_change: float,
    score: float,
) -> Verdict:
    diff = stack.mean(axis=0) - controls.mean(axis=0)
    dy, dx = np.gradient(diff)
    energy = dx**2 + dy**2
    edges_box = float(energy[inside].mean())
    edges_ring = float(energy[known].mean())
    # White ink brightens; over white, only its shadow shows, darkening: either counts.
    bright = float(np.percentile(np.abs(diff[inside]), 98))
    ring_gap = float(np.median(np.abs(diff[known])))
    figures = {
        "ring_change": ring_change,
        "edges_box": edges_box,
        "edges_ring": edges_ring,
        "brightening": bright,
        "ring_gap": ring_gap,
    }
    if ring_gap >= 3.0:
        # The view changed between the controls and the run (a cut, a move): no comparison.
        return _by_score(score, "still picture, but the frames around it show another view")
    if edges_box >= 3.0 * edges_ring + 4.0 and bright >= 6.0:
        return Verdict(True, "appears over a still picture and leaves it again", figures)
    return Verdict(False, "no overlay: the same picture is there without it", figures)


def _by_score(score: float, why: str) -> Verdict:
    accepted = score >= MIN_SCORE
    return Verdict(
        accepted,
        f"{why}; detector confidence {score:.2f} {'>=' if accepted else '<'} {MIN_SCORE}",
        {"score": score},
    )
