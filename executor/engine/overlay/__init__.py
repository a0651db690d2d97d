"""The mark as an overlay: what the frames say about it before any pixel changes.

- `evidence`: during the analysis pass, crops of the luma plane where the detector saw the
  mark (and of the same spot just before it came and after it left);
- `confirm`: a detected segment is kept only when its frames agree that a fixed
  semi-transparent overlay sits there;
- `reach`: the frames beside a confirmed run that the detections missed but that show its
  mark (a fade, the frames just after a jump);
- `matte`: the overlay's per-pixel gain and offset (`out = g·bg + h`), estimated from the
  frames it sits still over, so the picture under it is recovered by inverting the blend
  where the mark is not opaque.
"""

from executor.engine.overlay.confirm import Verdict, confirm
from executor.engine.overlay.evidence import EvidenceCollector, RunEvidence
from executor.engine.overlay.extent import ink_extent, ink_mask
from executor.engine.overlay.matte import Matte, estimate_matte, recover, reuse
from executor.engine.overlay.reach import reach

__all__ = [
    "EvidenceCollector",
    "Matte",
    "RunEvidence",
    "Verdict",
    "confirm",
    "estimate_matte",
    "ink_extent",
    "ink_mask",
    "reach",
    "recover",
    "reuse",
]
