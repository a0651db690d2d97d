"""The fuzz stage: schemathesis against the live service from its own `/openapi.json`, with every
check it has (undocumented statuses, bodies off their schema, schema-violating requests accepted,
schema-valid ones refused, `Allow` headers, …), a fixed seed and a bounded number of cases per
operation. Once with the admin token (admin holds every role, so the cases reach the handlers)
and once with none (every guarded route must say 401 as documented).

Bounded or excluded, with the reason:
- the live streams (`/events`, `/api/admin/logs/stream`) never end by design: their 200 is not
  fuzzed here (their caps and errors are in tests/service/test_streams.py);
- a claim's `wait_s` is set to 0: a long poll of up to 30 s per case would spend the budget
  waiting.

Where the schema cannot say all the contract, the statuses a schema-valid request may still get
are widened for that operation only (`_CONTRACT_BEYOND_SCHEMA`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import events

from tests.fixtures.live_service import LiveService

ADMIN = "tadmin"
TOKENS = {
    "SORAWM_CLIENT_TOKENS": "alice:tclient",
    "SORAWM_EXECUTOR_TOKENS": "ex:texecutor",
    "SORAWM_ADMIN_TOKENS": f"root:{ADMIN}",
    "SORAWM_LOOPBACK_EXEMPT": "false",
    "SORAWM_LOG_LEVEL": "WARNING",
}
SEED = 1616
MAX_EXAMPLES = int(os.environ.get("SORAWM_FUZZ_EXAMPLES", "25"))
STREAMS = r"/events$|/api/admin/logs/stream$"
DEFAULT_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# schemathesis' own list of refusals, and a body too large or too slow to read
NEGATIVE_REFUSED = [
    *("400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"),
    *("408", "413"),
]

# operation → statuses a request that fits the schema may still get, and why
_CONTRACT_BEYOND_SCHEMA: list[tuple[str, str, list[str], str]] = [
    # the bytes must be a video and the options must fit it: no schema can say that
    ("POST", "/api/tasks", ["413", "415", "422"], "not a video, or options that do not fit it"),
    ("POST", "/submit_remove_task", ["413", "415", "422"], "the same upload, the original's name"),
    # a cursor is opaque: one the service did not hand out is refused
    ("GET", "/api/tasks", ["422"], "a cursor this service did not hand out"),
    # one of two optional parameters is needed (the original's name or ours)
    ("GET", "/get_results", ["422"], "neither task_id nor remove_task_id"),
    # the original server answers 400 to a download of an unfinished task; its clients expect it
    ("GET", "/download/{task_id}", ["400"], "the task has not finished"),
    # the result's sha256 header must be the body's hash
    ("PUT", "/api/tasks/{task_id}/result", ["422"], "a body that does not hash to the header"),
]


def _config(headers: dict[str, str], max_examples: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "workers": 1,
            "phases": {"stateful": {"enabled": False}},
            "generation": {"max-examples": max_examples},
            "checks": {
                "enabled": True,
                # A body past its route's cap is refused by its size before its schema: a
                # WeFastAPI line whose message breaks maxLength in escaped unicode is 413.
                "negative_data_rejection": {"expected-statuses": NEGATIVE_REFUSED},
            },
            "request-timeout": 20,
            "operations": [
                {
                    "include-name": f"{method} {path}",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*DEFAULT_ACCEPTED, *extra]
                        }
                    },
                }
                for method, path, extra, _why in _CONTRACT_BEYOND_SCHEMA
            ],
        }
    )


@schemathesis.serializer("video/mp4")
def _raw_video(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    # the result upload is raw bytes; a generated value that is not bytes is sent as its text
    return value if isinstance(value, bytes) else str(value).encode()


@schemathesis.hook
def before_call(ctx: schemathesis.HookContext, case: Any, **kwargs: Any) -> None:
    """A claim's valid `wait_s` becomes 0 (an invalid one stays: the service must refuse it).
    Here, not in `map_body`: the coverage phase's boundary cases (29, 30) skip that hook."""
    body = case.body
    if case.operation.path == "/api/tasks/claim" and isinstance(body, dict):
        wait = body.get("wait_s")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 < wait <= 30:
            case.body = {**body, "wait_s": 0}


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    workdir: Path = tmp_path_factory.mktemp("fuzzed")
    live = LiveService(workdir, env=TOKENS).start()
    yield live
    live.kill()


def fuzz(live: LiveService, headers: dict[str, str], max_examples: int) -> list[str]:
    """Run every phase but the stateful one over every operation: the failures, one line each."""
    config = _config(headers, max_examples)
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=config)
    schema = schema.exclude(path_regex=STREAMS, method="GET")
    failures: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {getattr(event, 'label', '')} {event.info.message}")
        recorder = getattr(event, "recorder", None)
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished) and recorder:
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        case = recorder.cases[case_id].value
                        failure = check.failure_info.failure
                        failures.append(
                            f"{recorder.label} {check.name}: {failure.title}: {failure.message}"
                            f" -- {case.as_curl_command()}"[:600]
                        )
    return sorted(set(failures))


def test_the_service_answers_as_its_openapi_says_with_the_admin_token(
    fuzzed_service: LiveService,
) -> None:
    failures = fuzz(fuzzed_service, {"Authorization": f"Bearer {ADMIN}"}, MAX_EXAMPLES)
    assert failures == [], "\n".join(failures)


def test_the_service_answers_as_its_openapi_says_without_a_token(
    fuzzed_service: LiveService,
) -> None:
    failures = fuzz(fuzzed_service, {}, max(3, MAX_EXAMPLES // 5))
    assert failures == [], "\n".join(failures)
