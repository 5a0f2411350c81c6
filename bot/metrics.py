"""The web process's side of observability: every request gets an id, a log line and two metrics.

``Observed`` is plain ASGI middleware (no ``BaseHTTPMiddleware``: it would add a task per request).
Routes are labelled by their template (``/api/v1/answers/{answer_id}``), never by the raw path, so
the number of series stays fixed whatever clients send. ``/metrics`` is counted like any route.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector
from redis import Redis

from core.observability import REQUEST_ID_HEADER, new_request_id, request_context
from jobs.metrics import StackCollector

log = logging.getLogger("tnaas.web")
PROBES = ("/healthz", "/metrics")  # routes a machine polls; logged at DEBUG

# API answers wait for a worker (milliseconds) and at most TNAAS_API_WAIT (25 s) before a 202.
HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REQUESTS = Counter("tnaas_http_requests", "HTTP requests answered, by route and status", ["method", "route", "status"])
LATENCY = Histogram(
    "tnaas_http_request_seconds",
    "Time to answer an HTTP request, by route and status",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
)
VOTES = Counter("tnaas_votes", "Votes received, by surface and direction (1 up, -1 down)", ["surface", "direction"])
_HEADER = REQUEST_ID_HEADER.lower().encode()


def route_of(scope: dict) -> str:
    """The matched route as a template: each path parameter's value put back as ``{name}``."""
    if scope.get("route") is None:
        return "unmatched"
    path = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        head, sep, tail = path.rpartition(str(value))
        if sep:
            path = f"{head}{{{name}}}{tail}"
    return path


class Observed:
    """Request id in (``X-Request-ID``, or a new one) and out; a log line; request count and latency."""

    def __init__(self, app, record_metrics: bool = True):
        self.app, self.record_metrics = app, record_metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        offered = next((v.decode("latin-1") for k, v in scope["headers"] if k == _HEADER), None)
        request_id = new_request_id(offered)
        status = 500  # what the client gets if the app raises before answering

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_HEADER, request_id.encode())]
            await send(message)

        start = time.perf_counter()
        with request_context(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - start
                route, method = route_of(scope), scope["method"]
                if self.record_metrics:
                    labels = (method, route, str(status))
                    REQUESTS.labels(*labels).inc()
                    LATENCY.labels(*labels).observe(elapsed)
                # probes (/healthz, /metrics: Docker every 30 s, `tnaas up` until ready) are chatter at DEBUG
                level = logging.DEBUG if route in PROBES else logging.INFO
                log.log(level, "%s %s %d %.1f ms", method, route, status, 1000 * elapsed)


class _ProcessMetrics(Collector):
    """This process's metrics (prometheus-client's default registry), inside an app's own registry."""

    def collect(self):
        yield from REGISTRY.collect()


def metrics_registry(connection: Redis, queue_name: str) -> CollectorRegistry:
    """What /metrics shows: this process's metrics plus the stack's state read from Redis."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    registry.register(StackCollector(connection, queue_name))
    return registry


def count_vote(surface: str, direction: int) -> None:
    VOTES.labels(surface, str(direction)).inc()
