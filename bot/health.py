"""What /healthz reports: can the stack answer requests now (readiness)? /livez only says the web
process itself answers.

Not ready (503, each problem listed) when Redis does not answer; when no worker is registered, or
none has sent a heartbeat within ``3 x TNAAS_HEARTBEAT`` (stopped or stuck: a worker's pulse beats
even while it runs a job); when the oldest waiting job has waited more than
``TNAAS_HEALTH_QUEUE_WAIT`` seconds (whatever the workers say, nobody is taking jobs); when
``TNAAS_HEALTH_FAILED_GROWTH`` jobs failed within ``TNAAS_HEALTH_FAILED_WINDOW``; or when a worker
holds other models than the published ones. A single silent worker beside live ones is a note,
not a problem: jobs still flow, and rq forgets it after ``TNAAS_WORKER_SILENT``.

Each registry's snapshot (as the workers that load it report it in Redis) is listed with its state
and age; none, or a stale one (the scheduled refresh failing), is a note: marks still work without it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pydantic import BaseModel
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry

from availability.rules import REGISTRIES
from core.settings import Settings
from store.availability import SnapshotStates, snapshot_state
from store.deploys import ModelVersions


class WorkerHealth(BaseModel):
    name: str
    pid: int | None = None
    state: str
    models_version: str | None
    heartbeat_age: float | None  # seconds since its last heartbeat


class SnapshotHealth(BaseModel):
    registry: str
    state: str  # none | fresh | due | stale (older than twice TNAAS_AVAILABILITY_SNAPSHOT_REFRESH)
    age: float | None = None  # seconds since it was built
    names: int | None = None
    source: str | None = None


class Health(BaseModel):
    ok: bool
    redis: bool
    models_published: str | None = None
    workers: list[WorkerHealth] = []
    queued: int = 0
    oldest_wait: float = 0.0  # seconds the oldest waiting job has waited
    running: int = 0
    failed: int = 0
    failed_recently: int = 0  # within TNAAS_HEALTH_FAILED_WINDOW
    snapshots: list[SnapshotHealth] = []  # registry snapshots, for the "too similar" rules
    problems: list[str] = []
    notes: list[str] = []


def _age(moment: datetime | None, now: float) -> float | None:
    if moment is None:
        return None
    return round(now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp(), 1)


def oldest_wait(q: Queue, now: float) -> float:
    """Seconds the job at the head of the queue has waited (0 when none waits)."""
    for job_id in q.get_job_ids(0, 4):  # the head may have just been taken or expired: look a little further
        job = Job.fetch(job_id, connection=q.connection) if Job.exists(job_id, connection=q.connection) else None
        if job is not None and job.enqueued_at is not None:
            return max(0.0, _age(job.enqueued_at, now) or 0.0)
    return 0.0


def failed_since(q: Queue, seconds: float, failure_ttl: int, now: float) -> int:
    """Jobs that failed in the last ``seconds``: rq scores a failed job at its failure time + its TTL."""
    registry = FailedJobRegistry(queue=q)
    return q.connection.zcount(registry.key, now + failure_ttl - seconds, "+inf")


def health(connection: Redis, settings: Settings) -> Health:
    try:
        return _health(connection, settings)
    except RedisError as err:
        return Health(ok=False, redis=False, problems=[f"redis unreachable: {err}"])


def _health(connection: Redis, settings: Settings) -> Health:
    connection.ping()
    now = time.time()
    q = Queue(settings.queue, connection=connection)
    deploys = ModelVersions(connection)
    versions = deploys.held()
    workers = [
        WorkerHealth(
            name=w.name,
            pid=w.pid,
            state=str(w.get_state()),
            models_version=versions.get(w.name),
            heartbeat_age=_age(w.last_heartbeat, now),
        )
        for w in Worker.all(queue=q)
    ]
    report = Health(
        ok=True,
        redis=True,
        models_published=deploys.published(),
        workers=workers,
        queued=q.count,
        oldest_wait=oldest_wait(q, now),
        running=StartedJobRegistry(queue=q).get_job_count(cleanup=False),  # sweeping is the workers' job
        failed=FailedJobRegistry(queue=q).get_job_count(cleanup=False),
        failed_recently=failed_since(q, settings.health_failed_window, settings.failure_ttl, now),
    )
    silent_after = 3 * settings.heartbeat
    silent = [w for w in workers if w.heartbeat_age is None or w.heartbeat_age > silent_after]
    if not workers:
        report.problems.append("no worker is running")
    elif len(silent) == len(workers):
        report.problems.append(
            "no live worker: " + ", ".join(f"{w.name} silent for {w.heartbeat_age} s" for w in silent)
        )
    else:
        report.notes += [f"worker {w.name} silent for {w.heartbeat_age} s" for w in silent]
    if report.oldest_wait > settings.health_queue_wait:
        report.problems.append(
            f"jobs are not being taken: the oldest of {report.queued} waiting has waited {report.oldest_wait:.0f} s"
        )
    if report.failed_recently >= settings.health_failed_growth:
        report.problems.append(
            f"{report.failed_recently} jobs failed in the last {settings.health_failed_window} s "
            "(see `rq info` and the failed registry)"
        )
    report.snapshots = snapshots(connection, settings, now)
    for snap in report.snapshots:
        if snap.state == "stale":
            report.notes.append(f"the {snap.registry} snapshot is {snap.age / 3600:.0f} h old: its refresh fails")
        elif snap.state == "none":
            report.notes.append(
                f"no {snap.registry} snapshot: its 'too similar' rule is not checked (`tnaas availability refresh`)"
            )
    if report.models_published and any(w.models_version != report.models_published for w in workers):
        report.problems.append("a worker holds other models than the published version")
    report.ok = not report.problems
    return report


def snapshots(connection: Redis, settings: Settings, now: float) -> list[SnapshotHealth]:
    reported = SnapshotStates(connection).all()
    return [
        SnapshotHealth(**vars(snapshot_state(r, reported.get(r), settings.availability_snapshot_refresh, now)))
        for r in REGISTRIES
    ]
