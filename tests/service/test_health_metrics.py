"""`/health` checks the database and the store; `/metrics` is Prometheus text."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.client import submit_ok


def test_health_reports_database_and_store_ok(http: httpx.Client) -> None:
    response = http.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "store": "ok"}


def test_metrics_give_the_queue_depth_by_status(
    http: httpx.Client, video: Path, make_executor
) -> None:
    for _ in range(3):
        submit_ok(http, video)
    make_executor().claim_one()

    response = http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    depths = {}
    for family in families:
        if family.name.startswith("sorawm_tasks"):
            by_status = {
                s.labels["status"]: s.value for s in family.samples if "status" in s.labels
            }
            if by_status:
                depths[family.name] = by_status
    assert depths, f"no sorawm_tasks* family with a status label in: {[f.name for f in families]}"
    assert any(d.get("QUEUED") == 2 and d.get("PROCESSING") == 1 for d in depths.values()), depths
