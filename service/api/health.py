"""Liveness with the database and store checked; Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.answers import answers
from service.api.auth import AdminDep
from service.api.guarded_route import GuardedRoute
from service.state import StateDep
from service.tasks import queries
from shared.contract import HealthReport, Routes

router = APIRouter(route_class=GuardedRoute, tags=["health"])


@router.get(Routes.HEALTH, response_model=HealthReport, responses={503: {"model": HealthReport}})
async def health(state: StateDep) -> JSONResponse:
    checks = {"database": state.db.check, "store": state.store.check}
    report = {}
    for name, check in checks.items():
        try:
            await check()
            report[name] = "ok"
        except Exception as exc:  # a health check reports, it does not raise
            logger.warning("health check of the {} failed: {}", name, exc)
            report[name] = f"failing: {type(exc).__name__}"
    healthy = all(value == "ok" for value in report.values())
    body = HealthReport(status="ok" if healthy else "failing", **report)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get(Routes.LIVE)
async def live() -> dict[str, str]:
    """The process answers and touches nothing: a liveness probe, and the benchmarks' ceiling."""
    return {"status": "ok"}


@router.get(
    Routes.METRICS,
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **answers(401, 403)},
)
async def metrics(state: StateDep, _: AdminDep) -> Response:
    """Prometheus text: tasks by status, claims, lease expiries, durations, executors online."""
    offline_after = state.settings.executor_offline_after_s
    online = sum(
        queries.is_online(executor, offline_after_s=offline_after)
        for executor, _progress in await queries.list_executors(state.db)
    )
    text = state.metrics.render(
        tasks_by_status=await queries.count_by_status(state.db),
        executors_online=online,
        streams_open=state.streams.total,
    )
    return Response(text, media_type=CONTENT_TYPE_LATEST)
