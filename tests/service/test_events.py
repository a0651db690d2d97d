"""`GET /api/tasks/{id}/events`: server-sent `task` events of status and progress until it ends."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx

from shared.contract import TaskPublic
from tests.fixtures.client import submit_ok
from tests.fixtures.live_service import LiveService


class EventReader(threading.Thread):
    """Reads one SSE stream to its end in the background: (event, data) pairs."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events: list[tuple[str, str]] = []
        self.content_type = ""
        self.status_code = 0
        self.first = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(30.0)) as client,
                client.stream("GET", self.url) as response,
            ):
                self.status_code = response.status_code
                self.content_type = response.headers.get("content-type", "")
                event, data = "message", []
                for line in response.iter_lines():
                    if line == "":
                        if data:
                            self.events.append((event, "\n".join(data)))
                            self.first.set()
                        event, data = "message", []
                    elif line.startswith(":"):
                        continue
                    elif line.startswith("event:"):
                        event = line[len("event:") :].strip()
                    elif line.startswith("data:"):
                        data.append(line[len("data:") :].strip())
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.first.set()


def test_events_stream_progress_until_finished_and_then_end(
    live: LiveService, http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task = submit_ok(http, video)
    reader = EventReader(f"{live.url}/api/tasks/{task['id']}/events")
    reader.start()
    assert reader.first.wait(10), "no first event within 10 s"
    executor = make_executor()
    claim = executor.claim_one()
    for progress in (20, 50, 80):
        assert (
            executor.heartbeat(
                task["id"], claim["lease_token"], progress=progress, stage="inpaint"
            ).status_code
            == 200
        )
        threading.Event().wait(1.0)  # each step stands long enough for any watcher to see it
    assert executor.upload_result(task["id"], claim["lease_token"], result_bytes).status_code == 200

    reader.join(timeout=20)

    assert not reader.is_alive(), "the event stream did not end after FINISHED"
    assert reader.error is None, repr(reader.error)
    assert reader.status_code == 200
    assert reader.content_type.startswith("text/event-stream")
    assert {event for event, _ in reader.events} == {"task"}
    tasks = [TaskPublic.model_validate(json.loads(data)) for _, data in reader.events]
    assert all(t.id == task["id"] for t in tasks)
    progress = [t.progress for t in tasks]
    assert progress == sorted(progress), f"progress went backwards: {progress}"
    assert tasks[-1].status == "FINISHED"
    assert [t.status for t in tasks].count("FINISHED") == 1
    assert len({p for p in progress if 0 < p < 100}) >= 2, (
        f"progress in between not streamed: {progress}"
    )


def test_events_of_an_ended_task_send_its_state_once_and_end(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    task = submit_ok(http, video)
    http.post(f"/api/tasks/{task['id']}/cancel")
    reader = EventReader(f"{live.url}/api/tasks/{task['id']}/events")

    reader.start()
    reader.join(timeout=10)

    assert not reader.is_alive()
    assert reader.error is None, repr(reader.error)
    assert len(reader.events) == 1
    event, data = reader.events[0]
    assert event == "task"
    assert json.loads(data)["status"] == "CANCELLED"
