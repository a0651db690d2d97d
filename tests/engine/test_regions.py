"""The user takes over: boxes and masks per time range are cleaned instead of detection there.

The outputs are encoded losslessly (crf 0), so a pixel the engine did not change decodes to
exactly the input's value: "changed" below is exact, not a PSNR threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from executor.engine.cli import EXIT_BAD_INPUT, main
from executor.engine.inpaint import MarkPlan, margin_for
from executor.engine.pipeline import remove_watermark
from executor.engine.reader import VideoReader
from executor.engine.regions import UserArea, UserAreas

WIDTH, HEIGHT, FRAMES, FPS = 160, 96, 24, 24
MARGIN = margin_for(WIDTH, HEIGHT)


@pytest.fixture
def source(clip: Callable[..., Path]) -> Path:
    return clip("in.mp4", width=WIDTH, height=HEIGHT, frames=FRAMES, fps=FPS)


def changed(a: Path, b: Path) -> list[np.ndarray]:
    """Per frame, where the luma of `b` differs from `a`'s."""
    with VideoReader(a) as first, VideoReader(b) as second:
        return [x.y != y.y for x, y in zip(first, second, strict=True)]


def box_area(box: tuple[int, int, int, int], grow: int = 0) -> np.ndarray:
    area = np.zeros((HEIGHT, WIDTH), dtype=bool)
    x1, y1, x2, y2 = box
    area[max(0, y1 - grow) : y2 + grow, max(0, x1 - grow) : x2 + grow] = True
    return area


def grown(mask: np.ndarray, by: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * by + 1, 2 * by + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


@pytest.mark.parametrize("inpainter", ["temporal", "telea"])
def test_a_user_box_changes_only_that_box_and_its_margin_in_its_time_range(
    source: Path, tmp_path: Path, inpainter: str
) -> None:
    box = (40, 20, 90, 44)
    user = UserAreas((UserArea(box=box, start_s=0.25, end_s=0.75),), detect=False)
    out = tmp_path / "out.mp4"

    report = remove_watermark(source, out, inpainter=inpainter, crf=0, user=user)

    inside = box_area(box, MARGIN)
    for index, diff in enumerate(changed(source, out)):
        in_range = 0.25 <= index / FPS < 0.75
        assert not (diff & ~inside).any(), f"frame {index} changed outside the box"
        assert diff[box[1] : box[3], box[0] : box[2]].any() == in_range, index
    assert [(s.start, s.end, s.source) for s in report.segments] == [(6, 17, "user")]


@pytest.mark.parametrize("inpainter", ["temporal", "telea"])
def test_a_mask_changes_only_its_white_pixels_and_a_thin_margin(
    source: Path, tmp_path: Path, inpainter: str
) -> None:
    # an L shape: its bounding box holds plenty of pixels that are not in the mask
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[20:70, 30:40] = True
    mask[60:70, 30:120] = True
    out = tmp_path / "out.mp4"

    remove_watermark(
        source, out, inpainter=inpainter, crf=0, user=UserAreas((UserArea(mask=mask),), False)
    )

    allowed = grown(mask, MARGIN)
    for index, diff in enumerate(changed(source, out)):
        assert not (diff & ~allowed).any(), f"frame {index} changed outside the mask"
        assert diff[mask].mean() > 0.5, index


def test_areas_that_overlap_in_time_are_cleaned_together(source: Path, tmp_path: Path) -> None:
    first, second = (10, 10, 40, 30), (100, 50, 150, 80)
    user = UserAreas((UserArea(box=first), UserArea(box=second, end_s=0.5)), detect=False)
    out = tmp_path / "out.mp4"

    remove_watermark(source, out, inpainter="telea", crf=0, user=user)

    for index, diff in enumerate(changed(source, out)):
        both = index / FPS < 0.5
        allowed = box_area(first, MARGIN) | (box_area(second, MARGIN) if both else False)
        assert not (diff & ~allowed).any(), index
        assert diff[10:30, 10:40].any()
        assert diff[50:80, 100:150].any() == both, index


def test_the_detector_is_not_even_loaded_when_the_user_covers_every_frame(
    source: Path, tmp_path: Path
) -> None:
    user = UserAreas((UserArea(box=(10, 10, 50, 40)),), detect=True)

    report = remove_watermark(
        source,
        tmp_path / "out.mp4",
        inpainter="telea",
        detector_weights=tmp_path / "no-such-weights.pt",  # loading these would fail
        user=user,
    )

    assert not report.detected and report.frames == FRAMES


def test_user_areas_replace_the_detected_boxes_only_in_their_frames() -> None:
    detected = MarkPlan.from_boxes(
        [[100, 60, 140, 80]] * FRAMES, width=WIDTH, height=HEIGHT, frames=FRAMES, margin=MARGIN
    )
    user = UserAreas((UserArea(box=(10, 10, 40, 30), start_s=0.5),))

    plan = user.plan(
        width=WIDTH, height=HEIGHT, frames=FRAMES, fps=FPS, margin=MARGIN, detected=detected
    )

    assert plan.boxes[:12] == detected.boxes[:12]
    assert plan.boxes[12:] == [(10 - MARGIN, 10 - MARGIN, 40 + MARGIN, 30 + MARGIN)] * 12
    assert plan.user_frames == frozenset(range(12, FRAMES))
    assert [s.source for s in plan.segments] == ["detected", "user"]


def test_frames_sharing_user_areas_share_one_mask_array() -> None:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[30:40, 30:90] = True
    user = UserAreas((UserArea(mask=mask), UserArea(box=(0, 0, 20, 20))), detect=False)

    plan = user.plan(width=WIDTH, height=HEIGHT, frames=FRAMES, fps=FPS, margin=MARGIN)

    masks = {id(plan.mask(i)) for i in range(FRAMES)}
    assert len(masks) == 1 and plan.mask(0) is not None
    assert plan.mask(0).shape == (40 + MARGIN, 90 + MARGIN)  # from the frame's corner


def test_an_area_outside_the_video_is_refused_before_any_work(source: Path, tmp_path: Path) -> None:
    user = UserAreas((UserArea(box=(100, 50, 170, 80)),), detect=False)

    with pytest.raises(ValueError, match="outside the 160x96 video"):
        remove_watermark(source, tmp_path / "out.mp4", user=user)

    assert not (tmp_path / "out.mp4").exists()


def test_the_cli_takes_regions_and_masks(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[60:80, 100:140] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    out = tmp_path / "out.mp4"

    code = main(
        [
            str(source),
            str(out),
            "--region",
            "10,10,50,40@0-0.5",
            "--mask",
            f"{tmp_path / 'mask.png'}@0.5-",
            "--no-detect",
            "--inpainter",
            "telea",
            "--crf",
            "0",
        ]
    )

    assert code == 0, capsys.readouterr().err
    diffs = changed(source, out)
    assert diffs[0][10:40, 10:50].any() and not diffs[0][60:80, 100:140].any()
    assert diffs[-1][60:80, 100:140].any() and not diffs[-1][10:40, 10:50].any()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--region", "10,10,5,40"], "not a box"),
        (["--region", "10,10,50"], "X1,Y1,X2,Y2"),
        (["--region", "10,10,50,40@2"], "START-END"),
        (["--region", "10,10,50,40@3-1"], "end time must be after"),
        (["--mask", "no-such.png"], "not found"),
        (["--no-detect"], "needs at least one"),
    ],
)
def test_bad_regions_and_masks_exit_2_saying_why(
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(source), str(tmp_path / "out.mp4"), *flags])

    assert exited.value.code == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


def test_a_box_outside_the_video_exits_2(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(source), str(tmp_path / "o.mp4"), "--region", "0,0,500,40", "--no-detect"])

    assert code == EXIT_BAD_INPUT and "outside the 160x96 video" in capsys.readouterr().err
