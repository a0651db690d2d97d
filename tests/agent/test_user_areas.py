"""The user takes over through the task's options: the executor cleans exactly their areas,
and it tells the service which inpainters it can run."""

from __future__ import annotations

import base64
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from executor.engine.inpaint import margin_for
from executor.engine.reader import VideoReader
from executor.engine.weights_card import SHIPPED_WEIGHTS, read_card
from shared.contract import Routes
from tests.fixtures.client import submit_ok, wait_for_status
from tests.fixtures.executor_process import ExecutorProcess
from tests.fixtures.live_service import LiveService

Executors = Callable[..., ExecutorProcess]
WIDTH, HEIGHT = 96, 64
MARGIN = margin_for(WIDTH, HEIGHT)


@pytest.fixture
def source(make_video: Callable[..., Path]) -> Path:
    return make_video("in.mp4", width=WIDTH, height=HEIGHT, frames=12, fps=24)


def cleaned(
    http: httpx.Client, source: Path, options: dict[str, Any], tmp_path: Path
) -> list[np.ndarray]:
    """Per frame, the luma pixels the executor changed (the result is lossless: crf 0)."""
    task = submit_ok(http, source, options={"crf": 0, "detect": False, **options})
    wait_for_status(http, task["id"], "FINISHED", timeout=120)
    result = tmp_path / "result.mp4"
    result.write_bytes(http.get(Routes.TASK_RESULT.format(task_id=task["id"])).content)
    with VideoReader(source) as before, VideoReader(result) as after:
        return [a.y != b.y for a, b in zip(before, after, strict=True)]


def test_a_task_with_boxes_in_its_options_changes_exactly_those_pixels(
    live: LiveService, http: httpx.Client, executors: Executors, source: Path, tmp_path: Path
) -> None:
    executors(live, 1)
    x1, y1, x2, y2 = 20, 10, 60, 30

    diffs = cleaned(http, source, {"regions": [{"box": [x1, y1, x2, y2]}]}, tmp_path)

    allowed = np.zeros((HEIGHT, WIDTH), dtype=bool)
    allowed[y1 - MARGIN : y2 + MARGIN, x1 - MARGIN : x2 + MARGIN] = True
    for index, diff in enumerate(diffs):
        assert not (diff & ~allowed).any(), f"frame {index} changed outside the box"
        assert diff[y1:y2, x1:x2].mean() > 0.5, index


def test_a_mask_in_the_options_changes_only_the_masks_area(
    live: LiveService, http: httpx.Client, executors: Executors, source: Path, tmp_path: Path
) -> None:
    executors(live, 1)
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[40:50, 10:80] = 255
    mask[10:50, 70:80] = 255
    png = base64.b64encode(cv2.imencode(".png", mask)[1].tobytes()).decode("ascii")

    diffs = cleaned(http, source, {"inpainter": "telea", "masks": [{"png_base64": png}]}, tmp_path)

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * MARGIN + 1, 2 * MARGIN + 1))
    allowed = cv2.dilate(mask, kernel) > 0
    for index, diff in enumerate(diffs):
        assert not (diff & ~allowed).any(), f"frame {index} changed outside the mask"
        assert diff[mask > 0].mean() > 0.5, index


def executor_capabilities(http: httpx.Client, executor_id: str) -> dict[str, Any] | None:
    for executor in http.get(Routes.EXECUTORS).json():
        if executor["id"] == executor_id and executor["capabilities"]:
            return executor["capabilities"]
    return None


def wait_for_capabilities(http: httpx.Client, executor_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (found := executor_capabilities(http, executor_id)) is None:
        assert time.monotonic() < deadline, f"{executor_id} never claimed"
        time.sleep(0.2)
    return found


def test_an_executor_without_a_lama_model_offers_temporal_and_telea(
    live: LiveService, http: httpx.Client, executors: Executors, tmp_path: Path
) -> None:
    executors(live, 1, "--lama-model", str(tmp_path / "missing.pt"))

    capabilities = wait_for_capabilities(http, "ET-SoraWM-1")

    assert capabilities["inpainters"] == ["temporal", "telea"]


def test_an_executor_whose_lama_model_loads_offers_lama(
    live: LiveService, http: httpx.Client, executors: Executors, tmp_path: Path
) -> None:
    import torch

    class Identity(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return image

    model = tmp_path / "lama.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream
        torch.jit.script(Identity()).save(str(model))
    executors(live, 1, "--lama-model", str(model))

    capabilities = wait_for_capabilities(http, "ET-SoraWM-1")

    assert capabilities["inpainters"] == ["temporal", "telea", "lama"]


def test_an_executor_names_its_detector_weights_and_devices(
    live: LiveService, http: httpx.Client, executors: Executors
) -> None:
    card = read_card(SHIPPED_WEIGHTS)
    assert card is not None
    executors(live, 1)

    capabilities = wait_for_capabilities(http, "ET-SoraWM-1")

    assert capabilities["detector"] == card.summary()
    assert f"sha256:{card.sha256[:12]}" in capabilities["detector"]
    assert f"training seed {card.train_seed}" in capabilities["detector"]
    assert "cpu" in capabilities["devices"]
