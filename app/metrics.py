"""Prometheus metrics: request counts and latencies per route template, plus store gauges read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per app, so several apps in one process (tests) do not share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "companion_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "companion_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "companion_association_queue_depth",
            "Entries on the companion:stream:association stream",
            registry=self.registry,
        )
        self.store_up = Gauge(
            "companion_store_up", "1 if the store answered the last check", ["store"], registry=self.registry
        )
        self.workers_alive = Gauge(
            "companion_workers_alive", "Background workers with a fresh heartbeat", registry=self.registry
        )
        self.worker_heartbeat_age = Gauge(
            "companion_worker_heartbeat_age_seconds",
            "Seconds since the newest worker heartbeat (absent until a worker has beaten)",
            registry=self.registry,
        )
        self.queue_backlog = Gauge(
            "companion_queue_entries",
            "Entries of the worker's queues by state (queued, pending, dead)",
            ["queue", "state"],
            registry=self.registry,
        )

        self.crisis_messages = Gauge(
            "companion_crisis_messages",
            "Messages perception flagged as a crisis, by kind, since the Redis store began (read at scrape time)",
            ["kind"],
            registry=self.registry,
        )

    def observe_background(self, background: dict[str, Any]) -> None:
        """Set the worker and queue gauges from ``app.services.health.worker_and_queues``."""
        worker = background["worker"]
        self.workers_alive.set(worker["alive"])
        if worker["last_beat_age_seconds"] is not None:
            self.worker_heartbeat_age.set(worker["last_beat_age_seconds"])
        for queue, backlog in background["queues"].items():
            for state, value in backlog.items():
                self.queue_backlog.labels(queue, state).set(value)


def install_metrics(app: FastAPI) -> Metrics:
    """Count and time every request by its route template (never the raw path: ids would explode cardinality)."""
    metrics = Metrics()

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.latency.labels(request.method, template).observe(time.perf_counter() - started)
        return response

    return metrics
