"""The engine on the marks as they really are, drawn by the held-out generator (photos, fonts
and a logo shape never used in training): the two-line mark with the creator's @handle, and
a mark against the frame's edge. The shipped detector must find them and the engine must
take them off."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

pytest.importorskip("ultralytics")

from executor.engine.pipeline import Report, remove_watermark  # noqa: E402
from tools.synth import ClipSpec, generate_clip  # noqa: E402
from tools.synth.clip import ClipFiles  # noqa: E402
from tools.synth.spec import Look  # noqa: E402

SEED = 1_000_000 + 31_000  # evaluation seeds: never seen in training


def clip(folder: Path, index: int, look: Look, size: tuple[int, int]) -> ClipFiles:
    spec = ClipSpec(
        width=size[0],
        height=size[1],
        seconds=4.0,
        fps=30,
        family="sora",
        split="heldout",
        look=look,
    )
    return generate_clip(folder, SEED, index, spec)


def lumas(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.float32) for f in container.decode(video=0)]


def removed_share(files: ClipFiles, report: Report) -> float:
    """Share of the marked frames whose true mark box lies inside a repainted box."""
    truth = json.loads(files.boxes.read_text())
    marked = [(int(i), box) for i, box in truth.items() if box is not None]
    covered = 0
    for index, (x1, y1, x2, y2) in marked:
        for segment in report.segments:
            bx1, by1, bx2, by2 = segment.box
            inside = bx1 <= x1 and by1 <= y1 and x2 <= bx2 and y2 <= by2
            if segment.start <= index <= segment.end and inside:
                covered += 1
                break
    return covered / max(1, len(marked))


def mark_psnr(files: ClipFiles, video: Path) -> float:
    """Luma PSNR inside the true mark boxes against the clean clip."""
    truth = json.loads(files.boxes.read_text())
    errors = []
    for index, (ours, clean) in enumerate(zip(lumas(video), lumas(files.clean), strict=True)):
        box = truth.get(str(index))
        if box is not None:
            x1, y1, x2, y2 = box
            errors.append(np.mean((ours[y1:y2, x1:x2] - clean[y1:y2, x1:x2]) ** 2))
    return float(10 * np.log10(255**2 / max(1e-9, float(np.mean(errors)))))


@pytest.mark.parametrize(
    ("name", "look", "size"),
    [
        ("handle-photo", Look(handle=True, background="photo", edge=False), (640, 360)),
        ("handle-portrait", Look(handle=True, edge=False), (360, 640)),
        ("edge", Look(edge=True, background="photo"), (640, 360)),
    ],
)
def test_the_mark_is_found_and_taken_off(
    name: str, look: Look, size: tuple[int, int], tmp_path: Path
) -> None:
    files = clip(tmp_path, ["handle-photo", "handle-portrait", "edge"].index(name), look, size)
    out = tmp_path / "out.mp4"
    report = remove_watermark(files.marked, out, preset="veryfast")
    assert removed_share(files, report) >= 0.9
    assert mark_psnr(files, out) >= mark_psnr(files, files.marked) + 3
