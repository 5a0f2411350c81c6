"""The worker: rq's ``SimpleWorker`` that loads the models once per process and runs each job in it.

rq's default worker forks a work horse per job, so each job would inherit the models but pay ~20 ms
of fork and bookkeeping (measured with models preloaded: ~45 jobs/s forking, 170-200 with SimpleWorker). Our jobs are short
CPU-bound numpy calls with a hard timeout, so ``SimpleWorker`` runs them in-process. The price: a job
that kills the process kills the worker; rq then finds the job abandoned and retries it or moves it
to the failed registry, and the supervisor starts a new worker.

Everything here goes through what rq documents for extension: a worker class (``--worker-class``)
and a queue class; job functions get the models from the process (``needs_context``), not from rq.

Faults. A heartbeat thread (``Pulse``) beats every ``TNAAS_HEARTBEAT`` seconds, also while a job
runs (rq's ``SimpleWorker`` beats only between jobs), and keeps the running job's execution alive for
``TNAAS_WORKER_SILENT`` seconds. A worker that dies or is stopped (SIGKILL, SIGSTOP, a lost machine)
falls silent: its execution expires, and rq's registry maintenance -- which every worker runs every
``TNAAS_WORKER_SILENT`` seconds, one at a time (``ModelQueue``) -- retries the job while it has
retries left, else fails it with ``AbandonedJobError``. Never silently expired.
When Redis goes away, rq's wait for a job retries every second (rq's default backoff grows to a
minute); anywhere else rq's loop ends, and ``run`` waits for Redis and starts it again in the same
process, with the models it holds, so jobs are taken again within a second or two of Redis' return.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.worker import WorkerStatus

from availability.checker import AvailabilityChecker, build_checker
from core.observability import request_context
from core.settings import Settings, get_settings
from jobs import metrics
from jobs.team_models import TeamModels
from models.registry import ModelRegistry
from store.arms import ArmCounts, RecentArms
from store.connection import wait_for_redis
from store.deploys import ModelVersions
from store.learnt import LearntModels
from store.team_corpora import TeamCorpora
from store.training import TrainingProgress

log = logging.getLogger(__name__)
# seconds: before a job, a worker looks at the published model version again only if its last look is
# older than this (it looks each time it waits for a job, too): back-to-back jobs skip a round trip
# before each answer, and a version published meanwhile is answered with at most this late
VERSION_FRESH = 0.1
ARMS_FRESH = 0.1  # seconds: the bandit's counts a worker answers with are at most this old (``RecentArms``)


@dataclass
class WorkerContext:
    """What a job function needs from the process that runs it."""

    models: ModelRegistry
    version: str  # the model version ``models`` holds
    connection: Redis
    settings: Settings
    availability: AvailabilityChecker | None = None  # registry snapshots, live checks and their cache
    arms: ArmCounts | None = None  # the bandit's counts (a worker's: RecentArms, read at most every ARMS_FRESH s)
    # a version published under another fingerprint than this machine's files, already reacted to once
    seen_published: str | None = None
    team: TeamModels | None = None  # team corpora loaded here (kept across model versions: they are Redis')

    def __post_init__(self):
        if self.arms is None:
            self.arms = ArmCounts(self.connection)
        if self.team is None:
            self.team = TeamModels(TeamCorpora(self.connection), self.settings)


_process_context: WorkerContext | None = None  # this process' models, once a ModelWorker has loaded them


def needs_context(func):
    """A job function that takes the worker's context as its ``context`` keyword: rq calls it with the
    job's arguments only, and it runs with the models this process loaded (tests may pass their own)."""

    @functools.wraps(func)
    def with_context(*args, context: WorkerContext | None = None, **kwargs):
        context = context or _process_context
        if context is None:
            raise RuntimeError("TNaaS jobs run on `tnaas worker` (jobs.worker.ModelWorker), which holds the models")
        return func(*args, context=context, **kwargs)

    return with_context


class ModelQueue(Queue):
    """rq's queue, whose registry-cleaning lock lives ``TNAAS_WORKER_SILENT`` seconds (rq's: 899): a
    worker killed while it cleans delays the next sweep of abandoned jobs by a silence, not 15 minutes."""

    def acquire_maintenance_lock(self) -> bool:
        return bool(self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=get_settings().worker_silent))


class Pulse(threading.Thread):
    """The worker's heartbeat, beside whatever the worker is doing; see the module's docstring."""

    def __init__(self, worker: ModelWorker):
        super().__init__(name="pulse", daemon=True)
        self.worker = worker
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.worker.settings.heartbeat):
            try:
                self.worker.beat()
            except RedisError as err:  # Redis is away: the main loop waits for it; keep beating
                log.debug("heartbeat: %s", err)
            except Exception:  # a heartbeat must never take the worker down
                log.exception("heartbeat failed")


class ModelWorker(SimpleWorker):
    """``rq worker --worker-class jobs.worker.ModelWorker``: preload the models, keep the running job's
    execution alive, and take up a newly published model version between jobs."""

    queue_class = ModelQueue
    # rq waits 1, 2, 4, ... up to 60 s between reconnection attempts; Redis restarts in about a second.
    exponential_backoff_factor = 1.0
    max_connection_wait_time = 1.0

    def __init__(self, queues, *args, settings: Settings | None = None, **kwargs):
        self.settings = settings or get_settings()
        silent = self.settings.worker_silent
        # rq logs each job's description at INFO by default: the call with its payload (user ids, text).
        kwargs.setdefault("log_job_description", False)
        # registry maintenance (abandoned jobs) every silence; an idle worker's wait for a job is
        # worker_ttl - 15 s long, so that it, too, looks that often
        kwargs.setdefault("maintenance_interval", silent)
        kwargs.setdefault("worker_ttl", silent + 15)
        super().__init__(queues, *args, **kwargs)
        self.versions = ModelVersions(self.connection)
        # the models this process loaded (rq's loop restarted after Redis came back), else loaded now
        self.context = _process_context or load_context(self.connection, self.settings)
        self.versions.report(self.name, self.context.version)
        self.stopping = False  # a warm or cold shutdown was asked for (SIGTERM, SIGINT)
        # time.monotonic() of the last look at the published version, and of the last heartbeat
        self._version_looked_at = self._beaten_at = float("-inf")
        self._running: Job | None = None  # the job being run now, for the pulse
        self.pulse = Pulse(self)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long the running job's execution lives without a heartbeat: the pulse beats meanwhile."""
        return self.settings.worker_silent

    def beat(self) -> None:
        """One heartbeat, one round trip: the worker and, while a job runs, its execution in the started
        registry. A worker silent long enough to be dropped from rq's worker list registers again."""
        if self.birth_date is None:
            return  # not registered yet: work() does that
        job, execution = self._running, next(iter(self.executions.values()), None)
        with self.connection.pipeline() as pipe:
            self.heartbeat(self.settings.worker_silent, pipeline=pipe)
            if job is not None and execution is not None:
                execution.heartbeat(job.started_job_registry, self.settings.worker_silent, pipe)
            recreated = pipe.execute()[0]  # HSET's count of new fields: 1 when the worker's hash was gone
        self._beaten_at = time.monotonic()
        if recreated:
            log.warning(
                "worker %s was silent for more than %d s: registering again", self.name, self.settings.worker_silent
            )
            self.connection.delete(self.key)
            self.register_birth()

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        """rq's heartbeat; outside a pipeline (rq beats around every job, each beat three round trips) it
        is one round trip, and skipped when the pulse beat less than half a heartbeat ago."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        if time.monotonic() - self._beaten_at < self.settings.heartbeat / 2:
            return
        with self.connection.pipeline() as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()
        self._beaten_at = time.monotonic()

    def set_state(self, state: str, pipeline=None) -> None:
        """rq marks the worker idle twice between two jobs (after one, and before waiting for the next):
        the second write, of the state it holds already, is skipped."""
        if pipeline is None and state == WorkerStatus.IDLE and self.get_state() == WorkerStatus.IDLE:
            return
        super().set_state(state, pipeline)

    def clean_registries(self) -> None:
        """rq's registry maintenance, then, under the same lock, the jobs a worker took off the queue and
        never started (it died or froze right after taking one): back at the head of the queue once they
        have waited there a silence (rq's own maintenance fails them, to be retried, after a minute)."""
        super().clean_registries()
        for queue in self.queues:
            if queue.acquire_maintenance_lock():
                try:
                    requeue_unstarted(queue, self.settings.worker_silent)
                finally:
                    queue.release_maintenance_lock()

    def request_stop(self, signum, frame):
        self.stopping = True
        super().request_stop(signum, frame)

    def request_force_stop(self, signum, frame):
        self.stopping = True
        super().request_force_stop(signum, frame)

    def work(self, *args, **kwargs) -> bool:
        self.pulse.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            self.pulse.stopped.set()

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Before waiting for a job, with none held, look at the published model version (unless looked
        at within VERSION_FRESH: back-to-back jobs would pay a round trip each)."""
        if time.monotonic() - self._version_looked_at > VERSION_FRESH:
            self.reload_if_published()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run one job under its request id (its log lines carry it), timed for /metrics, with the
        published models and the newest registry snapshots."""
        with request_context(job.meta.get("request_id"), job.id):
            started_at, started = datetime.now(UTC), time.perf_counter()
            try:
                if time.monotonic() - self._version_looked_at > VERSION_FRESH:
                    self.reload_if_published()
                self.context.availability.reload_if_refreshed()
                self._running = job
                super().execute_job(job, queue)
            finally:
                self._running = None
                ended = time.perf_counter()
                if self.settings.metrics:
                    metrics.observe_job(job, started, ended, started_at)
                if job.meta.get("request_id"):  # a user's request: its id follows it here (upkeep stays quiet)
                    status = job.get_status(refresh=False)
                    log.info("%s %s in %.1f ms", metrics.job_kind(job), status, 1000 * (ended - started))

    def reload_if_published(self) -> bool:
        """One GET; a different published version means load the models again (what is unchanged on
        disk is taken over from the registry held now)."""
        try:
            published = self.versions.published()
        except RedisError as err:  # the next look tries again; rq's loop meets Redis' absence itself
            log.warning("could not look at the published model version (%s)", err)
            return False
        self._version_looked_at = time.monotonic()
        if published is None or published == self.context.version or published == self.context.seen_published:
            return False
        log.info("model version %s published (have %s): reloading", published, self.context.version)
        self.context = load_context(self.connection, self.settings, previous=self.context, published=published)
        self.versions.report(self.name, self.context.version)
        if self.settings.metrics:
            metrics.MODEL_RELOADS.inc()
        return True

    def teardown(self):
        self.pulse.stopped.set()
        try:
            self.versions.forget(self.name)
            super().teardown()
        except RedisError as err:
            log.warning("Redis unreachable at shutdown (%s): rq forgets this worker once its heartbeat expires", err)


def requeue_unstarted(queue: Queue, silence: float) -> None:
    """Jobs in rq's intermediate list (taken off the queue, not started) seen there for longer than
    ``silence``: back to the head of the queue. rq keeps a job's first sighting there by job id, for a
    day: a sighting older than the job's last enqueueing belongs to an earlier taking (the job was
    started since, and retried), so it is replaced rather than acted on -- else a retried job, taken
    again, would be put back while its new taker starts it, and run twice."""
    taken = queue.intermediate_queue
    for job_id in taken.get_job_ids():
        if job_id in queue.started_job_registry or taken.set_first_seen(job_id):
            continue
        job, first_seen = queue.fetch_job(job_id), taken.get_first_seen(job_id)
        if job is None or first_seen is None:
            continue
        if job.enqueued_at is not None and first_seen < job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or UTC):
            queue.connection.delete(taken.get_first_seen_key(job_id))
            taken.set_first_seen(job_id)
            continue
        if (datetime.now(UTC) - first_seen).total_seconds() > silence:
            with queue.connection.pipeline() as pipe:
                pipe.lrem(taken.key, 1, job_id)
                pipe.delete(taken.get_first_seen_key(job_id))
                queue.push_job_id(job_id, pipeline=pipe, at_front=True)
                pipe.execute()
            log.warning("job %s was taken but never started: back in the queue", job_id)


def load_context(
    connection: Redis, settings: Settings, previous: WorkerContext | None = None, published: str | None = None
) -> WorkerContext:
    """This process' models (taking over from ``previous`` what is unchanged on disk), its availability
    checker and bandit counts: what every job function of the process runs with."""
    global _process_context
    try:  # what the stack learnt (the reranker), as kept in Redis: a worker on a new machine holds it too
        LearntModels(connection).share(settings.learnt_dir)
    except RedisError as err:
        log.warning("could not read what the stack learnt (%s): serving this machine's copy", err)
    models = ModelRegistry(settings.artifacts_dir, settings.learnt_dir).reusing(previous.models if previous else None)
    try:  # what the stack's trainer is still on: a request for it says when it will be ready
        models.training = TrainingProgress(connection).ready_at()
    except RedisError as err:
        log.warning("could not read what is still training (%s)", err)
    context = WorkerContext(
        models,
        models.preload(),
        connection,
        settings,
        previous.availability if previous else build_checker(settings, connection=connection),
        RecentArms(connection, ARMS_FRESH),
        seen_published=published,
        team=previous.team if previous else None,
    )
    # the reservoirs' ranking columns, scored beside the first jobs rather than inside them
    threading.Thread(target=_warm, args=(models, settings), name="warm", daemon=True).start()
    if settings.metrics:
        metrics.holds_version(context.version)
    _process_context = context
    return context


def _warm(models: ModelRegistry, settings: Settings) -> None:
    from jobs.pipeline import warm  # the pipeline imports what the job functions need; not at import time

    try:
        warm(models, settings)
    except Exception:  # a job scores what it needs itself; warming up must never take the worker down
        log.exception("warming up the reservoirs' ranking columns failed")


def run(connection: Redis, settings: Settings, burst: bool = False) -> None:
    """``tnaas worker``: rq's work loop, started again in this process (the models stay loaded) whenever
    it ends without being asked to: rq ends it on a Redis error outside its wait for a job."""
    while True:
        wait_for_redis(connection)  # started beside a Redis that is (re)starting: wait, do not crash-loop
        worker = ModelWorker([settings.queue], connection=connection, settings=settings)
        try:
            worker.work(burst=burst, logging_level=settings.log_level)
        except RedisError as err:  # its goodbye (rq's teardown) could not reach Redis
            log.warning("Redis went away (%s)", err)
        if worker.stopping or burst:
            return
        log.warning("the worker's loop ended (Redis unreachable?): starting it again once Redis answers")
