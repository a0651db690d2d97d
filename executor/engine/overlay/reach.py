"""How far a confirmed mark reaches past the frames its detections cover.

The detector misses a faint frame now and then: where the mark fades in or out, just after
it jumped, over a bright patch. The scanner's bisection then starts a segment late or ends
it early, and the frames it missed keep the mark. A run confirmed over a moving picture
gives a template of its own: the signed edges that stayed put over its frames (the
per-pixel median of the gradients), on its ink. A frame beside the run shows the mark when
its gradients project onto that template: about 1 where the mark is as strong as in the
run, less while it fades, about 0 where it is away, since a moving picture's edges do not
line up with the template. The neighbours farther out, most of them without the mark, say
where "away" lies for this picture (a slowly moving one keeps some of its edges in place),
and a neighbour must stand clear of it.

Over a still picture the template holds the picture's edges too and every neighbour would
match it: no frame is given back there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from executor.engine.overlay.evidence import RunEvidence
from executor.engine.overlay.extent import MIN_CHANGE, own_ink
from executor.engine.overlay.matte import FADE_TRIM

# The least presence of the run's mark a neighbour needs: at least FLOOR_GAP above where
# "away" lies and NOISE_SIGMAS of its spread, between these two bounds (a fading mark's
# first frames show a tenth of it; a neighbour showing a third is the mark wherever "away" is).
MIN_FLOOR, MAX_FLOOR = 0.12, 0.35
FLOOR_GAP = 0.1
NOISE_SIGMAS = 6.0
MIN_AWAY = 4  # neighbours needed to say where "away" lies; else the floor is MAX_FLOOR
MAX_SPREAD = 0.15  # past this spread of the run's own figures, the template is no test
MAX_MISSES = 1  # neighbours in a row that may fail before the walk stops (a codec blip)


@dataclass(frozen=True)
class Template:
    """The run's fixed edges on its ink."""

    fixed_x: np.ndarray  # float32 over the ink pixels
    fixed_y: np.ndarray
    ink: np.ndarray  # bool over the run's region

    def presence(self, crop: np.ndarray) -> float:
        """How much of the run's mark a crop of the run's region shows (1: all of it)."""
        gy, gx = np.gradient(crop.astype(np.float32), axis=(0, 1))
        along = np.asarray(gx)[self.ink] @ self.fixed_x + np.asarray(gy)[self.ink] @ self.fixed_y
        return float(along / (self.fixed_x @ self.fixed_x + self.fixed_y @ self.fixed_y))


def template(run: RunEvidence) -> Template | None:
    """The run's template, or None when its frames cannot make one (a still picture, ink
    not told from the picture, a run whose own frames disagree)."""
    stack = run.stack(trim=FADE_TRIM)
    if len(stack) < 4 or float(np.median(stack.std(axis=0))) < MIN_CHANGE:
        return None
    ink = own_ink(run)
    if ink is None:
        return None
    fixed_x, fixed_y = run.fixed_gradients(trim=FADE_TRIM)
    shape = Template(fixed_x[ink], fixed_y[ink], ink)
    if float(shape.fixed_x @ shape.fixed_x + shape.fixed_y @ shape.fixed_y) <= 0.0:
        return None
    own = np.array([shape.presence(crop) for crop in stack])
    return shape if _spread(own) <= MAX_SPREAD else None


def floor(presences: list[float]) -> float:
    """The least presence that counts, from the neighbours' (the lower half of them: the
    frames farthest from the mark's)."""
    if len(presences) < 2 * MIN_AWAY:
        return MAX_FLOOR
    away = np.sort(np.asarray(presences))[: len(presences) // 2]
    level = float(np.median(away))
    least = level + max(FLOOR_GAP, NOISE_SIGMAS * _spread(away))
    return min(MAX_FLOOR, max(MIN_FLOOR, least))


def _spread(values: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def reach(run: RunEvidence, start: int, end: int, taken: Callable[[int], bool]) -> tuple[int, int]:
    """The first and last frame of the segment `start`..`end` with the neighbours that
    show the run's mark added: walking out from each end over the frames kept beside the
    run, while they are not `taken` by another segment and show the mark."""
    shape = template(run)
    if shape is None:
        return start, end
    # The neighbours, and the run's own frames that the segment left out (the tracker ends
    # a segment where its detections end).
    beside = [
        *zip(run.control_frames, run.controls, strict=True),
        *((i, c) for i, c in zip(run.frames, run.crops, strict=True) if not start <= i <= end),
    ]
    presence = {index: shape.presence(crop) for index, crop in beside}
    least = floor(list(presence.values()))
    lowest, highest = min(presence, default=0), max(presence, default=-1)

    def walk(first: int, step: int) -> int:
        reached, index, misses = first - step, first, 0
        while lowest <= index <= highest and not taken(index):
            # A frame kept from the neighbours (something else seen there) counts as a miss.
            if presence.get(index, -1.0) >= least:
                reached, misses = index, 0
            else:
                misses += 1
                if misses > MAX_MISSES:
                    break
            index += step
        return reached

    return walk(start - 1, -1), walk(end + 1, 1)
