"""Files of several store chunks arrive and leave byte for byte.

The store reads downloads a chunk at a time; these files span several chunks with an odd
tail and arrive in small pieces, so every seam between chunks is crossed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.files.store import CHUNK
from shared.contract import Headers, Routes
from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import ScriptedExecutor, sha256_of

SIZE = 9 * CHUNK + CHUNK // 2 + 12_345


def padded_video(video: Path, size: int) -> bytes:
    """A real mp4 followed by a `free` box up to `size` bytes: still probes as a video."""
    head = video.read_bytes()
    pad = size - len(head)
    return head + struct.pack(">I", pad) + b"free" + os.urandom(pad - 8)


def in_pieces(data: bytes, piece: int = 50_000) -> Iterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


@pytest.fixture
def claimed(http: httpx.Client, video: Path, make_executor) -> tuple[ScriptedExecutor, str, str]:
    """A task submitted and claimed: (the executor holding it, task id, lease token)."""
    submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    return executor, claim["task_id"], claim["lease_token"]


def test_a_large_result_is_stored_and_served_byte_for_byte(
    http: httpx.Client, claimed: tuple[ScriptedExecutor, str, str], live
) -> None:
    executor, task_id, token = claimed
    result = os.urandom(SIZE)

    response = executor.http.put(
        Routes.TASK_RESULT.format(task_id=task_id),
        content=in_pieces(result),
        headers={
            Headers.LEASE_TOKEN: token,
            Headers.CONTENT_SHA256: sha256_of(result),
            "Content-Length": str(SIZE),
        },
    )

    assert response.status_code == 200, response.text
    assert response.json()["result"] == {"size": SIZE, "sha256": sha256_of(result)}
    assert get_task(http, task_id)["status"] == "FINISHED"
    assert http.get(Routes.TASK_RESULT.format(task_id=task_id)).content == result
    # a range across the seam between the first and second chunk, and the odd tail
    seam = CHUNK - 7
    ranged = http.get(
        Routes.TASK_RESULT.format(task_id=task_id),
        headers={"Range": f"bytes={seam}-{seam + 99}"},
    )
    assert ranged.status_code == 206 and ranged.content == result[seam : seam + 100]
    tail = http.get(Routes.TASK_RESULT.format(task_id=task_id), headers={"Range": "bytes=-5"})
    assert tail.content == result[-5:]
    leftovers = [p.name for p in live.task_dir(task_id).iterdir() if p.name.endswith(".part")]
    assert leftovers == []


def test_a_large_result_with_the_wrong_hash_leaves_nothing_behind(
    http: httpx.Client, claimed: tuple[ScriptedExecutor, str, str], live
) -> None:
    executor, task_id, token = claimed
    before = sorted(p.name for p in live.task_dir(task_id).iterdir())

    response = executor.upload_result(task_id, token, os.urandom(SIZE), sha256="0" * 64)

    assert response.status_code == 422
    assert get_task(http, task_id)["status"] == "PROCESSING"
    assert sorted(p.name for p in live.task_dir(task_id).iterdir()) == before


def test_a_large_submitted_video_is_stored_with_its_hash_and_handed_out_whole(
    http: httpx.Client, video: Path, make_executor
) -> None:
    data = padded_video(video, SIZE)

    task = submit_ok(http, data)

    assert task["input"]["size"] == SIZE and task["input"]["sha256"] == sha256_of(data)
    executor = make_executor()
    claim = executor.claim_one()
    assert claim["input"]["sha256"] == sha256_of(data)
    downloaded = executor.download_input(claim["task_id"], claim["lease_token"])
    assert downloaded.status_code == 200 and downloaded.content == data
