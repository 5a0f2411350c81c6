"""Prometheus metrics of the workers' side, and the stack's state as the web process reports it.

Each worker serves its own ``/metrics`` on a port of its own (``TNAAS_METRICS_PORT``, else the
``$PORT`` a Procfile runner gives each process; ``tnaas up`` numbers them from the web port + 1):
job wait and run times and outcomes by kind, model reloads, the model version it holds. A port per
worker rather than prometheus-client's multiprocess mode, because workers run in separate
containers or machines (compose replicas, platform dynos) that share no directory; Prometheus finds
them by DNS or a static list (see docs/operating.md, "Metrics").

The stack's state lives in Redis, so any process can read it at scrape time; the web process does
(``StackCollector``): queue depth, running and failed jobs, workers, published and held model
versions, impressions kept, each registry's snapshot (age, names, state) and circuit breaker. A
worker's own registry calls are ``tnaas_registry_calls_total`` (``availability.live``).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from availability.rules import REGISTRIES
from core.settings import get_settings
from store.availability import RegistryGate, SnapshotStates, snapshot_state
from store.deploys import ModelVersions
from store.votes import VoteStore

log = logging.getLogger(__name__)

# Jobs answer in milliseconds; upkeep (retraining) takes seconds to minutes.
JOB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600)

JOB_WAIT = Histogram(
    "tnaas_job_wait_seconds", "Time a job waited in the queue before a worker took it", ["kind"], buckets=JOB_BUCKETS
)
JOB_RUN = Histogram("tnaas_job_run_seconds", "Time a worker spent running a job", ["kind"], buckets=JOB_BUCKETS)
JOBS = Counter("tnaas_jobs", "Jobs a worker finished, by kind and outcome (finished, failed)", ["kind", "outcome"])
MODEL_RELOADS = Counter("tnaas_model_reloads", "Times this worker loaded the models again after a deploy")
WORKER_MODELS = Gauge("tnaas_worker_models_info", "The model version this worker holds (value 1)", ["version"])


def job_kind(job: Job) -> str:
    """The job function's short name: a label with a handful of values, never the payload."""
    return (job.func_name or "unknown").rsplit(".", 1)[-1]


def observe_job(job: Job, started: float, ended: float, started_at: datetime) -> None:
    kind = job_kind(job)
    if job.enqueued_at is not None:
        enqueued = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
        JOB_WAIT.labels(kind).observe(max(0.0, (started_at - enqueued).total_seconds()))
    JOB_RUN.labels(kind).observe(ended - started)
    outcome = "finished" if job.get_status(refresh=False) == JobStatus.FINISHED else "failed"
    JOBS.labels(kind, outcome).inc()


def holds_version(version: str) -> None:
    WORKER_MODELS.clear()
    WORKER_MODELS.labels(version or "none").set(1)


def serve_worker_metrics(port: int | None, host: str = "127.0.0.1") -> None:
    """Start this worker's /metrics server (a daemon thread) on ``host`` (where the web process binds);
    no port, no server. A port another program holds costs the metrics, not the worker: it runs on."""
    if port is None:
        log.info("no metrics port (TNAAS_METRICS_PORT or $PORT): this worker's metrics are not served")
        return
    try:
        start_http_server(port, addr=host)
    except OSError as err:
        log.warning(
            "this worker's metrics are not served: port %d on %s is taken (%s); the worker runs on. "
            "TNAAS_METRICS_PORT (or, under `tnaas up`, TNAAS_PORT, whose next ports the workers use) moves it",
            port,
            host,
            err.strerror,
        )
        return
    log.debug("worker metrics on %s:%d/metrics", host, port)


class StackCollector(Collector):
    """Read at every scrape from Redis: what the queue and the workers look like right now."""

    def __init__(self, connection: Redis, queue_name: str):
        self.redis, self.queue_name = connection, queue_name

    def collect(self):
        up = GaugeMetricFamily("tnaas_redis_up", "1 when the web process reaches Redis")
        try:
            families = self._families()
        except RedisError as err:
            log.warning("metrics: redis unreachable: %s", err)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list:
        q = Queue(self.queue_name, connection=self.redis)
        deploys = ModelVersions(self.redis)
        queued = GaugeMetricFamily("tnaas_queue_depth", "Jobs waiting for a worker", labels=["queue"])
        queued.add_metric([q.name], q.count)
        running = GaugeMetricFamily("tnaas_jobs_running", "Jobs a worker is running now", labels=["queue"])
        running.add_metric([q.name], StartedJobRegistry(queue=q).get_job_count(cleanup=False))  # workers sweep
        failed = GaugeMetricFamily(
            "tnaas_jobs_failed_kept", "Failed jobs kept for inspection (TNAAS_FAILURE_TTL)", labels=["queue"]
        )
        failed.add_metric([q.name], FailedJobRegistry(queue=q).get_job_count(cleanup=False))
        workers = GaugeMetricFamily("tnaas_workers", "Workers registered with RQ", labels=["queue"])
        workers.add_metric([q.name], len(Worker.all(queue=q)))
        published = GaugeMetricFamily(
            "tnaas_models_published_info", "The published model version (value 1)", labels=["version"]
        )
        if (version := deploys.published()) is not None:
            published.add_metric([version], 1)
        held = GaugeMetricFamily(
            "tnaas_models_held_info", "The model version each worker holds (value 1)", labels=["worker", "version"]
        )
        for worker, version in deploys.held().items():
            held.add_metric([worker, version or "none"], 1)
        impressions = GaugeMetricFamily("tnaas_impressions_kept", "Shown names kept as the reranking dataset")
        impressions.add_metric([], VoteStore(self.redis).impression_count())
        return [queued, running, failed, workers, published, held, impressions, *self._availability()]

    def _availability(self) -> list:
        settings = get_settings()
        reported, now = SnapshotStates(self.redis).all(), time.time()
        age = GaugeMetricFamily(
            "tnaas_availability_snapshot_age_seconds", "Age of each registry's snapshot", labels=["registry"]
        )
        names = GaugeMetricFamily(
            "tnaas_availability_snapshot_names", "Names in each registry's snapshot", labels=["registry"]
        )
        state = GaugeMetricFamily(
            "tnaas_availability_snapshot_info",
            "Each registry's snapshot state, none/fresh/due/stale (value 1)",
            labels=["registry", "state"],
        )
        breaker = GaugeMetricFamily(
            "tnaas_availability_breaker_open", "1 while a registry's circuit breaker is open", labels=["registry"]
        )
        failures = GaugeMetricFamily(
            "tnaas_availability_breaker_failures", "Registry calls failed in a row", labels=["registry"]
        )
        breakers = RegistryGate.from_settings(self.redis, settings).states(REGISTRIES)
        for registry in REGISTRIES:
            snap = snapshot_state(registry, reported.get(registry), settings.availability_snapshot_refresh, now)
            state.add_metric([registry, snap.state], 1)
            if snap.age is not None:
                age.add_metric([registry], snap.age)
                names.add_metric([registry], snap.names or 0)
            breaker.add_metric([registry], int(breakers[registry]["open"]))
            failures.add_metric([registry], breakers[registry]["failures"])
        return [age, names, state, breaker, failures]
