"""Bodies sent to exhaust the service: the caller is judged before a byte is read, no body is
read past its cap (Content-Length or chunked), and one that trickles is cut off."""

from __future__ import annotations

import json

import httpx

from shared.contract import (
    MAX_JSON_BODY_BYTES,
    MAX_LOG_BATCH_BYTES,
    MAX_LOG_LINE_BODY_BYTES,
    MAX_OPTIONS_BYTES,
    Routes,
)
from tests.fixtures.live_service import LiveService
from tests.fixtures.raw_http import chunked, exchange

CLAIM = json.dumps({"executor_id": "ET-SoraWM-1", "wait_s": 0}).encode()


def _head(live: LiveService, path: str, *headers: str) -> str:
    return "\r\n".join([f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{live.port}", *headers])


def test_a_caller_without_a_token_is_refused_before_its_body_is_read(service) -> None:
    live = service(SORAWM_LOOPBACK_EXEMPT="false", SORAWM_EXECUTOR_TOKENS="ex:te")
    # 1 GiB announced, nothing sent: an answer now means the body was never waited for
    head = _head(live, Routes.CLAIM, "Content-Type: application/json", f"Content-Length: {2**30}")
    answer = exchange(live.port, head, timeout_s=5)
    assert answer.status == 401


def test_a_declared_body_past_the_cap_is_413_before_it_is_read(live: LiveService) -> None:
    length = MAX_JSON_BODY_BYTES + 1
    head = _head(live, Routes.CLAIM, "Content-Type: application/json", f"Content-Length: {length}")
    answer = exchange(live.port, head, timeout_s=5)
    assert answer.status == 413


def test_a_chunked_body_past_the_cap_is_413(live: LiveService) -> None:
    # a valid claim padded with whitespace: only its size is wrong
    padded = CLAIM + b" " * MAX_JSON_BODY_BYTES
    pieces = [padded[i : i + 8192] for i in range(0, len(padded), 8192)]
    head = _head(live, Routes.CLAIM, "Content-Type: application/json", "Transfer-Encoding: chunked")
    answer = exchange(live.port, head, chunked(pieces))
    assert answer.status == 413
    assert "larger than" in str(answer.json())


def test_a_body_that_trickles_is_408_and_the_service_keeps_serving(service) -> None:
    live = service(SORAWM_BODY_TIMEOUT_S="1")
    head = _head(
        live, Routes.CLAIM, "Content-Type: application/json", f"Content-Length: {len(CLAIM)}"
    )
    answer = exchange(live.port, head, [bytes([b]) for b in CLAIM], pause_s=0.2)
    assert answer.status == 408
    with live.client() as http:
        assert http.get(Routes.HEALTH).status_code == 200


def test_a_log_batch_may_pass_the_json_cap_up_to_its_own(live: LiveService) -> None:
    records = [{"message": "x" * 1000} for _ in range(2 * MAX_JSON_BODY_BYTES // 1000)]
    with live.client() as http:
        response = http.post(Routes.LOGS, json={"executor_id": "ET-SoraWM-1", "records": records})
    assert response.status_code == 202


def test_a_log_batch_past_its_cap_is_413(live: LiveService) -> None:
    body = b'{"executor_id": "ET-SoraWM-1", "records": []}' + b" " * MAX_LOG_BATCH_BYTES
    with live.client() as http:
        response = http.post(
            Routes.LOGS, content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413


def test_a_wefastapi_line_past_its_cap_is_413(live: LiveService) -> None:
    body = b'{"level": "info", "message": "hi"}' + b" " * MAX_LOG_LINE_BODY_BYTES
    with live.client() as http:
        response = http.post(
            Routes.WEFASTAPI_LOG, content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413


def test_a_client_token_on_a_heartbeat_is_403_before_its_body_is_read(service) -> None:
    live = service(SORAWM_CLIENT_TOKENS="alice:ta")
    head = _head(
        live,
        Routes.HEARTBEAT.format(task_id="t" * 8),
        "Authorization: Bearer ta",
        "Content-Type: application/json",
        f"Content-Length: {2**30}",
    )
    assert exchange(live.port, head, timeout_s=5).status == 403


def test_the_service_answers_after_refusing_bodies(live: LiveService) -> None:
    head = _head(live, Routes.CLAIM, "Content-Type: application/json", f"Content-Length: {2**40}")
    assert exchange(live.port, head, timeout_s=5).status == 413
    with httpx.Client(base_url=live.url) as http:
        response = http.post(Routes.CLAIM, json={"executor_id": "ET-SoraWM-1", "wait_s": 0})
    assert response.status_code == 204


BOUNDARY = "hostileboundary"


def _part(name: str | None, data: bytes, filename: str | None = None) -> bytes:
    disposition = "form-data" + (f'; name="{name}"' if name else "")
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def _chunked_form(live: LiveService, parts: list[bytes]) -> int:
    head = _head(
        live,
        Routes.TASKS,
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding: chunked",
    )
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    return exchange(live.port, head, chunked(pieces), timeout_s=30).status


def test_a_chunked_form_with_too_many_fields_is_413(live: LiveService) -> None:
    parts = [_part(f"field{index}", b"x") for index in range(100)]
    assert _chunked_form(live, parts) == 413
    with live.client() as http:
        assert http.get(Routes.TASKS).json()["items"] == []


def test_a_chunked_form_whose_text_fields_pass_their_total_is_413(live: LiveService) -> None:
    options = b'{"inpainter": "telea"}' + b" " * (MAX_OPTIONS_BYTES - 100)
    parts = [_part("options", options)] + [_part(f"note{i}", b"n" * 60_000) for i in range(6)]
    assert _chunked_form(live, parts) == 413


def test_a_chunked_form_past_the_upload_limit_is_413_whatever_its_parts(service) -> None:
    live = service(SORAWM_MAX_UPLOAD_BYTES="100000")
    # a part without a name is not kept, but it is still counted
    assert _chunked_form(live, [_part(None, b"z" * (3 * 1024 * 1024))]) == 413
