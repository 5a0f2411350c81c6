"""The worker: loads every model once per process, then runs jobs in that same process.

rq's default worker forks a work horse per job, so each job would inherit the models but pay ~20 ms
of fork and bookkeeping (measured with models preloaded: ~45 jobs/s forking, 170-200 with SimpleWorker). Our jobs are short
CPU-bound numpy calls with a hard timeout, so ``SimpleWorker`` runs them in-process. The price: a job
that kills the process kills the worker; rq then finds the job abandoned and retries it or moves it
to the failed registry, and the supervisor starts a new worker.

Job functions get what they need from the worker, explicitly: ``ContextJob`` passes the worker's
``WorkerContext`` (loaded models, Redis, settings) as the ``context`` keyword to the functions marked
``@needs_context``; any other function runs as rq runs it.

Faults. A heartbeat thread (``Pulse``) beats every ``TNAAS_HEARTBEAT`` seconds, also while a job
runs (rq's ``SimpleWorker`` beats only between jobs), and keeps the running job's entry in rq's
started registry alive for ``TNAAS_WORKER_SILENT`` seconds. A worker that dies or is stopped
(SIGKILL, SIGSTOP, a lost machine) falls silent: its entry expires, and the next sweep -- every
worker's pulse runs one, one worker at a time -- hands the job to rq's abandoned-job handling:
retried while it has retries left, else failed with ``AbandonedJobError``. Never silently expired.
When Redis goes away the worker stays up and tries again every second (rq's default backoff
grows to a minute), so it takes jobs again within a second or two of Redis' return.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job, _job_stack
from rq.registry import StartedJobRegistry
from rq.repeat import Repeat
from rq.timeouts import TimerDeathPenalty
from rq.utils import now
from rq.worker import WorkerStatus

from availability.checker import AvailabilityChecker, build_checker
from core.observability import request_context
from core.settings import Settings, get_settings
from jobs import metrics
from models.registry import ModelRegistry
from store import atomic
from store.arms import ArmCounts, RecentArms
from store.connection import wait_for_redis
from store.deploys import ModelVersions
from store.sweeps import SweepLock

log = logging.getLogger(__name__)
# seconds: a worker looks at the published model version after each job, and again before the next one
# only if that look is older than this: back-to-back jobs skip a round trip before each answer, and a
# version published meanwhile is answered with at most this late
VERSION_FRESH = 0.1
ARMS_FRESH = 0.1  # seconds: the bandit's counts a worker answers with are at most this old (``RecentArms``)


@dataclass
class WorkerContext:
    models: ModelRegistry
    version: str  # the model version ``models`` holds
    connection: Redis
    settings: Settings
    availability: AvailabilityChecker | None = None  # registry snapshots, live checks and their cache
    arms: ArmCounts | None = None  # the bandit's counts (the worker's: RecentArms, read at most every ARMS_FRESH s)

    def __post_init__(self):
        if self.arms is None:
            self.arms = ArmCounts(self.connection)


def needs_context(func):
    """Mark a job function that takes the worker's context as its ``context`` keyword."""
    func.needs_context = True
    return func


class ContextJob(Job):
    """A job whose function, if it ``needs_context``, receives the running worker's context."""

    context: WorkerContext | None = None

    def perform(self):
        """rq's, without its own round trip to take the job's expiry off: ``ModelWorker`` does that in
        the transaction that starts the job (``prepare_job_execution``)."""
        _job_stack.push(self)
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result

    def _execute(self):
        if not getattr(self.func, "needs_context", False):
            return super()._execute()
        if self.context is None:
            raise RuntimeError(
                "TNaaS jobs run on `tnaas worker` (jobs.worker.ModelWorker), which gives them the models"
            )
        return self.func(*self.args, context=self.context, **self.kwargs)


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
                self.worker.sweep()
            except RedisError as err:  # Redis is away: the main loop waits for it; keep beating
                log.debug("heartbeat: %s", err)
            except Exception:  # a heartbeat must never take the worker down
                log.exception("heartbeat failed")


class ModelWorker(SimpleWorker):
    """``rq worker --worker-class jobs.worker.ModelWorker``: preload, then check the deployed version."""

    job_class = ContextJob
    # rq waits 1, 2, 4, ... up to 60 s between reconnection attempts; Redis restarts in about a second.
    exponential_backoff_factor = 1.0
    max_connection_wait_time = 1.0

    def __init__(self, *args, settings: Settings | None = None, **kwargs):
        # rq logs each job's description at INFO by default: the call with its payload (user ids, text).
        kwargs.setdefault("log_job_description", False)
        super().__init__(*args, **kwargs)
        self.settings = settings or get_settings()
        # time.monotonic() of the last heartbeat, suspension check and look at the published model version
        self._beaten_at = self._suspension_checked_at = self._version_looked_at = float("-inf")
        self.versions = ModelVersions(self.connection)
        self.sweeps = SweepLock(self.connection)
        self.availability = build_checker(self.settings, connection=self.connection)  # once: its threads live on
        self.context = self._load()
        self._seen_published: str | None = None
        self._running: Job | None = None  # the job being run now, for the pulse
        self._starting = None  # the transaction that will start the job being prepared
        self._published_after_job: tuple[str | None] | None = None  # the version looked at with a job's outcome
        self.pulse = Pulse(self)

    # -- heartbeats and the abandoned-job sweep ------------------------------------------------------
    def get_heartbeat_ttl(self, job: Job) -> int:
        """How long the running job's entry in the started registry lives without a heartbeat."""
        return self.settings.worker_silent

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        """rq's heartbeat with this worker's silence limit as the key's life (rq's default: 8 minutes).

        rq beats three times around every job, each two round trips; the pulse beats every
        TNAAS_HEARTBEAT seconds whatever the worker does, so a beat outside a pipeline is skipped
        when the last one is younger than half that (on a busy worker, most of them)."""
        if pipeline is not None:
            super().heartbeat(self.settings.worker_silent, pipeline)
            return
        if time.monotonic() - self._beaten_at < self.settings.heartbeat / 2:
            return
        self._beat_now()

    def _beat_now(self) -> None:
        """One heartbeat, one round trip."""
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                super().heartbeat(self.settings.worker_silent, pipe)
                pipe.execute()
            self._beaten_at = time.monotonic()
        except RedisError as err:
            log.debug("heartbeat: %s", err)

    def set_state(self, state: str, pipeline=None) -> None:
        """rq marks the worker idle twice between two jobs (after one, before waiting for the next):
        the second write, of the state it already wrote, is skipped."""
        if pipeline is None and state == self._state and state == WorkerStatus.IDLE:
            return
        super().set_state(state, pipeline)

    def handle_execution_ended(self, job: Job, queue, heartbeat_ttl: int) -> None:
        """rq stamps the job's end, then writes the job's ``last_heartbeat`` once more (a round trip of
        its own, before the one that records the outcome). Nothing reads that field (the started
        registry's entry, which the sweep goes by, the pulse keeps alive while the job is handled):
        only the stamp is kept, in memory (a later save of the job writes it)."""
        job.ended_at = job.last_heartbeat = now()

    # -- a job's round trips: rq's bookkeeping folded into fewer transactions ----------------------------
    # rq 2.12 (pinned) writes a job's execution, then its start, then (in the job) takes its expiry off,
    # then on success WATCHes its dependents, reads them and records the outcome, marks the worker idle
    # and we look at the published version: eight round trips, two here (each an atomic script,
    # ``store.atomic``: one reply instead of MULTI's two per command). Same writes, same order.
    def prepare_execution(self, job: Job) -> Execution:
        """rq's execution record, written with the job's start (``prepare_job_execution``), not before it."""
        self._starting = pipe = self.connection.pipeline()
        self.execution = Execution.create(job, self.get_heartbeat_ttl(job), pipeline=pipe, worker_name=self.name)
        self.set_state(WorkerStatus.BUSY, pipeline=pipe)
        return self.execution

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """rq's, in the transaction ``prepare_execution`` began, with the job's expiry taken off (rq's
        ``Job.perform`` did that in a round trip of its own): the job is started whole or not at all."""
        pipe, self._starting = self._starting or self.connection.pipeline(), None
        with pipe:
            self.set_current_job_id(job.id, pipeline=pipe)
            self.set_current_job_working_time(0, pipeline=pipe)
            heartbeat_ttl = self.get_heartbeat_ttl(job)
            self.heartbeat(heartbeat_ttl, pipeline=pipe)
            job.heartbeat(now(), heartbeat_ttl, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pending = Queue(job.origin, connection=self.connection).intermediate_queue
            if remove_from_intermediate_queue:
                pipe.lrem(pending.key, 1, job.id)
            # rq keeps when a sweep first saw the job taken but unstarted by job id, for a day: forgotten
            # now it has started, or a retry of it taken again would count from this taking's sighting
            pipe.delete(pending.get_first_seen_key(job.id))
            pipe.persist(job.key)
            atomic.run(self.connection, atomic.unsent(pipe))

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry) -> None:
        """rq's outcome, in one transaction with the worker going idle and the look at the published
        model version. rq WATCHes the job's dependents and reads them first (two round trips) so that
        none is added unseen; read inside the transaction, any added later sees the job finished and
        is enqueued by rq at once. (TNaaS enqueues none; any found is enqueued by rq after.)"""
        execution = self.execution
        with self.connection.pipeline() as pipe:
            pipe.scard(job.dependents_key)
            self.increment_successful_job_count(pipeline=pipe)
            self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            result_ttl = job.get_result_ttl(self.default_result_ttl)
            if result_ttl != 0:
                job._handle_success(
                    result_ttl,
                    pipeline=pipe,
                    worker_name=self.name,
                    execution_id=execution.id if execution else None,
                    execution_started_at=execution.created_at if execution else None,
                    execution_ended_at=job.ended_at,
                )
            if job.repeats_left is not None and job.repeats_left > 0:
                Repeat.schedule(job, queue, pipeline=pipe)
            else:
                job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipe)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            self.versions.ask_published(pipe)
            dependents, published = atomic.run(self.connection, atomic.unsent(pipe), wanted=(0, -1))
        self._published_after_job = (ModelVersions.version_of(published),)
        if dependents:
            queue.enqueue_dependents(job)
        self.log.info(
            "Successfully completed job %s in %ss on worker %s", job.id, job.ended_at - job.started_at, self.name
        )

    def check_for_suspension(self, burst: bool):
        """``rq suspend`` is noticed within a heartbeat rather than before every job (a round trip each)."""
        if time.monotonic() - self._suspension_checked_at < self.settings.heartbeat:
            return
        self._suspension_checked_at = time.monotonic()
        try:
            super().check_for_suspension(burst)
        except RedisError as err:
            log.warning("Redis unreachable (%s): waiting for it", err)
            wait_for_redis(self.connection, lambda: self._stop_requested)

    def beat(self) -> None:
        """One heartbeat: the worker (registering again if it was silent long enough to be dropped)
        and, while a job runs, the job's entry in the started registry."""
        if not self.connection.exists(self.key):
            if self.birth_date is None:
                return  # not registered yet: work() does that
            log.warning(
                "worker %s was silent for more than %d s: registering again", self.name, self.settings.worker_silent
            )
            self.register_birth()
        self._beat_now()
        execution, job = self.execution, self._running
        if execution is not None and job is not None:
            with self.connection.pipeline() as pipe:
                job.started_job_registry.add_execution(
                    execution, pipeline=pipe, ttl=self.settings.worker_silent, xx=True
                )
                pipe.execute()

    def sweep(self) -> None:
        """Jobs whose worker fell silent: rq retries them (retries left) or fails them. One sweeper at a time."""
        for queue in self.queues:
            if self.sweeps.claim(queue.name, self.settings.heartbeat):
                with self.sweeps.holding([queue.name], self.settings.worker_silent) as held:
                    if held:
                        StartedJobRegistry(
                            queue.name,
                            connection=self.connection,
                            job_class=self.job_class,
                            # a job's failure callback runs under this timeout; rq's default (SIGALRM)
                            # cannot be set outside the main thread, and the pulse is a thread
                            death_penalty_class=TimerDeathPenalty,
                        ).cleanup()
                        self.requeue_unstarted(queue)

    def clean_registries(self) -> None:
        """rq's registry maintenance (at start, then every few minutes) also retries abandoned jobs:
        under the same lock as the pulse's sweep, or both retry one job and it runs twice. Skipped
        while someone else cleans; rq tries again on its next loop."""
        with self.sweeps.holding([q.name for q in self.queues], self.settings.worker_silent) as held:
            if held:
                super().clean_registries()

    def requeue_unstarted(self, queue) -> None:
        """Jobs a worker took off the queue (rq moves them to an intermediate list) but never started,
        seen there for longer than TNAAS_WORKER_SILENT: back to the head of the queue. (rq itself
        fails them only after a minute, at its 10-minute maintenance.)"""
        pending = queue.intermediate_queue
        for job_id in pending.get_job_ids():
            if job_id in queue.started_job_registry or pending.set_first_seen(job_id):
                continue
            first_seen = pending.get_first_seen(job_id)
            if (
                first_seen is not None
                and (datetime.now(UTC) - first_seen).total_seconds() > self.settings.worker_silent
            ):
                with self.connection.pipeline() as pipe:
                    pipe.lrem(pending.key, 1, job_id)
                    pipe.delete(pending.get_first_seen_key(job_id))  # its next taking is seen afresh
                    queue.push_job_id(job_id, pipeline=pipe, at_front=True)
                    pipe.execute()
                log.warning("job %s was taken but never started: back in the queue", job_id)

    def work(self, *args, **kwargs):
        """rq's loop; when Redis goes away while rq is still starting up (registering, subscribing: rq
        lets that error end the process), wait for it and start again under the same name."""
        self.pulse.start()
        try:
            while True:
                try:
                    return super().work(*args, **kwargs)
                except RedisError as err:
                    if self._stop_requested:
                        raise
                    log.warning("Redis unreachable while the worker started (%s): waiting for it", err)
                    wait_for_redis(self.connection, lambda: self._stop_requested)
                    self._forget_half_start()
        finally:
            self.pulse.stopped.set()

    def _forget_half_start(self) -> None:
        """Undo a half-done registration, so that rq registers this worker afresh."""
        try:
            self.register_death()
        except RedisError as err:  # gone again: the next start meets it and waits once more
            log.warning("could not clear the half-started registration: %s", err)

    # -- Redis going away -----------------------------------------------------------------------------
    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """rq marks the worker idle before it waits for a job, and a Redis error there ends the
        process ("unhandled exception, quitting"): wait for Redis and wait for a job again instead."""
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except RedisConnectionError as err:
                if self._stop_requested:
                    raise StopRequested() from err
                log.warning("Redis unreachable while waiting for a job (%s): waiting for it", err)
                wait_for_redis(self.connection, lambda: self._stop_requested)

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except RedisError as err:
            log.warning("maintenance skipped, Redis unreachable: %s", err)

    def _load(self, previous: ModelRegistry | None = None) -> WorkerContext:
        models = ModelRegistry(self.settings.artifacts_dir).reusing(previous)  # what is unchanged on disk
        context = WorkerContext(
            models,
            models.preload(),
            self.connection,
            self.settings,
            self.availability,
            RecentArms(self.connection, ARMS_FRESH),
        )
        # the reservoirs' ranking columns, scored beside the first jobs rather than inside them
        threading.Thread(target=self._warm, args=(models,), name="warm", daemon=True).start()
        self.versions.report(self.name, context.version)
        if self.settings.metrics:
            metrics.holds_version(context.version)
        return context

    def _warm(self, models: ModelRegistry) -> None:
        from jobs.pipeline import warm  # the pipeline imports what the job functions need; not at import time

        try:
            warm(models, self.settings)
        except Exception:  # a job scores what it needs itself; warming up must never take the worker down
            log.exception("warming up the reservoirs' ranking columns failed")

    def reload_if_published(self, looked: tuple[str | None] | None = None) -> bool:
        """One GET (unless ``looked``: the version read already); a different published version means
        load everything again."""
        (published,) = looked if looked is not None else (self.versions.published(),)
        self._version_looked_at = time.monotonic()  # only once looked: a failed look is made again
        if published is None or published in (self.context.version, self._seen_published):
            return False
        log.info("model version %s published (have %s): reloading", published, self.context.version)
        self._seen_published = published  # react once, even if this machine's files fingerprint differently
        self.context = self._load(self.context.models)
        if self.settings.metrics:
            metrics.MODEL_RELOADS.inc()
        return True

    def execute_job(self, job: ContextJob, queue):
        """Run the job, then look at the published version for the next one.

        The look after a job is made with no job held (this one is done, the next not yet taken):
        a worker that dies or reloads for seconds there holds nobody's request. Before a job, the
        look is made again only if the last one is older than VERSION_FRESH (a worker idle since,
        or one whose look failed)."""
        self._published_after_job = None
        self._run_job(job, queue)
        if not self._stop_requested:
            try:
                self.reload_if_published(self._published_after_job)  # looked at with a success, else now
            except RedisError as err:  # the next job looks again before it is answered
                log.warning("could not look at the published model version (%s)", err)

    def _run_job(self, job: ContextJob, queue) -> None:
        """Run one job under its request id (so its log lines carry it), timed for /metrics.

        If Redis goes away meanwhile, the job's outcome cannot be recorded: the worker waits for
        Redis and moves on, and the job, still in the started registry, is swept and retried.
        """
        with request_context(job.meta.get("request_id"), job.id):
            started_at, started = datetime.now(UTC), time.perf_counter()
            try:
                if time.monotonic() - self._version_looked_at > VERSION_FRESH:
                    self.reload_if_published()
                self.availability.reload_if_refreshed()
                job.context = self.context
                self._running = job
                super().execute_job(job, queue)
            except RedisError as err:
                log.warning("Redis went away during job %s (%s): it will be retried once Redis is back", job.id, err)
                self.execution = None
                wait_for_redis(self.connection, lambda: self._stop_requested)
            finally:
                self._running = None
                if self.settings.metrics:
                    metrics.observe_job(job, started, time.perf_counter(), started_at)

    def teardown(self):
        self.pulse.stopped.set()
        try:
            self.versions.forget(self.name)
            super().teardown()
        except RedisError as err:
            log.warning("Redis unreachable at shutdown (%s): rq forgets this worker once its heartbeat expires", err)
