"""Task options are checked when the task is submitted (422 naming the problem, nothing kept),
and a task asking for an inpainter waits for an executor that can run it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from shared.contract import Routes
from tests.fixtures.client import folders_under, get_task, list_all, submit, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService

# the `video` fixture is 64x48 (tests/fixtures/videos.py defaults)
WIDTH, HEIGHT = 64, 48


def png_base64(width: int, height: int) -> str:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[10:20, 10:30] = 255
    ok, data = cv2.imencode(".png", mask)
    assert ok
    return base64.b64encode(data.tobytes()).decode("ascii")


def corrupt_png() -> str:
    data = bytearray(base64.b64decode(png_base64(WIDTH, HEIGHT)))
    data[60] ^= 0xFF  # inside the image data: the chunk's checksum no longer matches
    return base64.b64encode(bytes(data)).decode("ascii")


def assert_refused(
    live: LiveService, http: httpx.Client, video: Path, options: dict[str, Any], message: str
) -> None:
    response = submit(http, video, options=options)

    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert list_all(http) == []
    assert folders_under(live.data_dir / "tasks") == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"regions": [{"box": [30, 10, 20, 40]}]}, "options.regions[0].box: x2 must be greater"),
        ({"regions": [{"box": [1, 2, 3]}]}, "options.regions[0].box: a box is 4 whole numbers"),
        (
            {"regions": [{"box": [0, 0, 10, 10], "start_s": 2, "end_s": 1}]},
            "options.regions[0]: end_s must be greater than start_s",
        ),
        ({"masks": [{"png_base64": base64.b64encode(b"GIF89a...").decode()}]}, "not a PNG"),
        ({"masks": [{"png_base64": "not base64!"}]}, "options.masks[0]: png_base64 is not base64"),
        ({"masks": [{"png_base64": corrupt_png()}]}, "options.masks[0]: the PNG is corrupt"),
        ({"inpainter": "magic"}, "options.inpainter: unknown inpainter 'magic'"),
        ({"crf": 80}, "options.crf"),
        ({"boxes": [[1, 2, 3, 4]]}, "options.boxes: unknown option"),
        ({"regions": [{"box": [0, 0, 10, 10], "colour": "red"}]}, "regions[0].colour: unknown"),
    ],
)
def test_malformed_options_are_422_naming_the_problem_and_nothing_is_kept(
    live: LiveService, http: httpx.Client, video: Path, options: dict[str, Any], message: str
) -> None:
    assert_refused(live, http, video, options, message)


def test_a_box_outside_the_video_is_422_once_the_video_is_probed(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    options = {"regions": [{"box": [0, 0, 10, 10]}, {"box": [40, 30, 70, 40]}]}

    assert_refused(
        live,
        http,
        video,
        options,
        f"options.regions[1].box [40, 30, 70, 40] lies outside the {WIDTH}x{HEIGHT} video",
    )


def test_a_mask_of_another_size_than_the_video_is_422(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    options = {"masks": [{"png_base64": png_base64(32, 24)}]}

    assert_refused(
        live, http, video, options, f"options.masks[0] is 32x24, the video is {WIDTH}x{HEIGHT}"
    )


def test_a_range_starting_after_the_video_is_422(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    options = {"regions": [{"box": [0, 0, 10, 10], "start_s": 3600}]}

    assert_refused(live, http, video, options, "options.regions[0] starts at 3600 s, after the end")


def test_good_options_reach_the_executor_whole_and_show_the_mask_by_its_size(
    live: LiveService, http: httpx.Client, video: Path, make_executor: Any
) -> None:
    mask = png_base64(WIDTH, HEIGHT)
    options = {
        "inpainter": "telea",
        "regions": [{"box": [1, 2, 30, 40], "start_s": 0, "end_s": 0.25}],
        "masks": [{"png_base64": mask, "start_s": 0.25}],
        "detect": False,
    }

    task = submit_ok(http, video, options=options)
    claim = make_executor().claim_one()

    assert claim["options"] == options
    shown = get_task(http, task["id"])["options"]
    assert shown["masks"] == [{"start_s": 0.25, "png_bytes": len(base64.b64decode(mask))}]
    assert shown["regions"] == options["regions"]


def test_options_may_carry_masks_past_the_size_of_other_form_fields(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    # 16-bit RGBA noise hardly compresses: ~33 KB of base64 per mask
    noisy = np.random.default_rng(0).integers(0, 65535, (HEIGHT, WIDTH, 4), dtype=np.uint16)
    data = base64.b64encode(cv2.imencode(".png", noisy)[1].tobytes()).decode()
    options = json.dumps({"masks": [{"png_base64": data}] * 4})
    assert len(options) > 64 * 1024  # the limit of every other form field

    response = submit(http, video, options=options)

    assert response.status_code == 201, response.text


def test_more_masks_than_the_limit_are_422(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    options = {"masks": [{"png_base64": png_base64(WIDTH, HEIGHT)}] * 33}

    assert_refused(live, http, video, options, "options.masks: List should have at most 32")


def lama_task(http: httpx.Client, video: Path) -> dict[str, Any]:
    return submit_ok(http, video, options={"inpainter": "lama"})


def test_a_task_asking_for_lama_is_not_given_to_an_executor_without_it(
    live: LiveService, http: httpx.Client, video: Path, make_executor: Any
) -> None:
    task = lama_task(http, video)
    plain: ScriptedExecutor = make_executor("ET-SoraWM-1")

    no_work = plain.claim(capabilities={"device": "cpu", "inpainters": ["temporal", "telea"]})
    older = plain.claim(capabilities={"device": "cpu"})  # says nothing: temporal and telea

    assert no_work.status_code == 204 and older.status_code == 204
    waiting = get_task(http, task["id"])
    assert waiting["status"] == "QUEUED" and waiting["attempts"] == 0
    assert waiting["message"] == "waiting for an executor that can run lama"


def test_a_task_asking_for_lama_goes_to_the_executor_that_has_it(
    live: LiveService, http: httpx.Client, video: Path, make_executor: Any
) -> None:
    task = lama_task(http, video)
    plain = make_executor("ET-SoraWM-1")
    lama = make_executor("ET-SoraWM-2")
    assert plain.claim(capabilities={"inpainters": ["temporal", "telea"]}).status_code == 204

    claimed = lama.claim(capabilities={"inpainters": ["temporal", "telea", "lama"]})

    assert claimed.status_code == 200 and claimed.json()["task_id"] == task["id"]
    assert get_task(http, task["id"])["attempts"] == 1


def test_a_waiting_lama_task_does_not_hold_back_the_tasks_behind_it(
    live: LiveService, http: httpx.Client, video: Path, make_executor: Any
) -> None:
    lama_task(http, video)
    later = submit_ok(http, video)

    claimed = make_executor().claim(capabilities={"inpainters": ["temporal", "telea"]})

    assert claimed.status_code == 200 and claimed.json()["task_id"] == later["id"]


def test_the_compat_submit_takes_options_too(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    response = submit(
        http, video, field="video", route=Routes.COMPAT_SUBMIT, options={"inpainter": "nope"}
    )

    assert response.status_code == 422 and "unknown inpainter" in response.json()["detail"]
    assert list_all(http) == []
