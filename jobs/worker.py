"""The worker: loads every model once per process, then runs jobs in that same process.

rq's default worker forks a work horse per job, so each job would inherit the models but pay ~20 ms
of fork and bookkeeping (measured with models preloaded: ~45 jobs/s forking, 170-200 with SimpleWorker). Our jobs are short
CPU-bound numpy calls with a hard timeout, so ``SimpleWorker`` runs them in-process. The price: a job
that kills the process kills the worker; rq then finds the job abandoned and retries it or moves it
to the failed registry, and the supervisor starts a new worker.

Job functions get what they need from the worker, explicitly: ``ContextJob`` passes the worker's
``WorkerContext`` (loaded models, Redis, settings) as the ``context`` keyword to the functions marked
``@needs_context``; any other function runs as rq runs it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from rq import SimpleWorker
from rq.job import Job

from availability.checker import AvailabilityChecker, build_checker
from jobs import metrics
from models.registry import ModelRegistry
from store.deploys import ModelVersions
from tnaas.observability import request_context
from tnaas.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    models: ModelRegistry
    version: str  # the model version ``models`` holds
    connection: Redis
    settings: Settings
    availability: AvailabilityChecker | None = None  # registry snapshots, live checks and their cache


def needs_context(func):
    """Mark a job function that takes the worker's context as its ``context`` keyword."""
    func.needs_context = True
    return func


class ContextJob(Job):
    """A job whose function, if it ``needs_context``, receives the running worker's context."""

    context: WorkerContext | None = None

    def _execute(self):
        if not getattr(self.func, "needs_context", False):
            return super()._execute()
        if self.context is None:
            raise RuntimeError(
                "TNaaS jobs run on `tnaas worker` (jobs.worker.ModelWorker), which gives them the models"
            )
        return self.func(*self.args, context=self.context, **self.kwargs)


class ModelWorker(SimpleWorker):
    """``rq worker --worker-class jobs.worker.ModelWorker``: preload, then check the deployed version."""

    job_class = ContextJob

    def __init__(self, *args, settings: Settings | None = None, **kwargs):
        # rq logs each job's description at INFO by default: the call with its payload (user ids, text).
        kwargs.setdefault("log_job_description", False)
        super().__init__(*args, **kwargs)
        self.settings = settings or get_settings()
        self.versions = ModelVersions(self.connection)
        self.availability = build_checker(self.settings, connection=self.connection)  # once: its threads live on
        self.context = self._load()
        self._seen_published: str | None = None

    def _load(self) -> WorkerContext:
        models = ModelRegistry(self.settings.artifacts_dir)
        context = WorkerContext(models, models.preload(), self.connection, self.settings, self.availability)
        self.versions.report(self.name, context.version)
        if self.settings.metrics:
            metrics.holds_version(context.version)
        return context

    def reload_if_published(self) -> bool:
        """Between jobs: one GET; a different published version means load everything again."""
        published = self.versions.published()
        if published is None or published in (self.context.version, self._seen_published):
            return False
        log.info("model version %s published (have %s): reloading", published, self.context.version)
        self._seen_published = published  # react once, even if this machine's files fingerprint differently
        self.context = self._load()
        if self.settings.metrics:
            metrics.MODEL_RELOADS.inc()
        return True

    def execute_job(self, job: ContextJob, queue):
        """Run one job under its request id (so its log lines carry it), timed for /metrics."""
        with request_context(job.meta.get("request_id"), job.id):
            self.reload_if_published()
            self.availability.reload_if_refreshed()
            job.context = self.context
            started_at, started = datetime.now(UTC), time.perf_counter()
            try:
                return super().execute_job(job, queue)
            finally:
                if self.settings.metrics:
                    metrics.observe_job(job, started, time.perf_counter(), started_at)

    def teardown(self):
        self.versions.forget(self.name)
        super().teardown()
