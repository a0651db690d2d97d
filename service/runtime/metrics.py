"""Prometheus metrics: counters kept by this replica, gauges read from the database on scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.models import TaskRow


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.claims = Counter("sorawm_claims", "Tasks handed to executors", registry=self.registry)
        self.lease_expiries = Counter(
            "sorawm_lease_expiries", "Leases that ran out", registry=self.registry
        )
        self.task_duration = Histogram(
            "sorawm_task_duration_seconds",
            "Time from claim to the end of a task",
            ["status"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=self.registry,
        )
        self.tasks = Gauge("sorawm_tasks", "Tasks by status", ["status"], registry=self.registry)
        self.executors_online = Gauge(
            "sorawm_executors_online", "Executors seen recently", registry=self.registry
        )
        self.stream_reads = Counter(
            "sorawm_stream_watcher_reads",
            "Database reads of the watcher that wakes this replica's live streams (all together)",
            registry=self.registry,
        )
        self.streams_open = Gauge(
            "sorawm_streams_open", "Live streams open on this replica", registry=self.registry
        )

    def task_ended(self, task: TaskRow) -> None:
        if task.started_at is not None and task.finished_at is not None:
            seconds = (task.finished_at - task.started_at).total_seconds()
            self.task_duration.labels(status=task.status).observe(max(seconds, 0.0))

    def render(
        self, *, tasks_by_status: dict[str, int], executors_online: int, streams_open: int = 0
    ) -> bytes:
        for status, count in tasks_by_status.items():
            self.tasks.labels(status=status).set(count)
        self.executors_online.set(executors_online)
        self.streams_open.set(streams_open)
        return generate_latest(self.registry)
