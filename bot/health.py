"""What /healthz reports: can the stack answer requests now (readiness)? /livez only says the web
process itself answers.

Not ready (503, each problem listed) when Redis does not answer; when no worker is registered, or
none has sent a heartbeat within ``3 x TNAAS_HEARTBEAT`` (stopped or stuck: a worker's pulse beats
even while it runs a job); when the oldest waiting job has waited more than
``TNAAS_HEALTH_QUEUE_WAIT`` seconds (whatever the workers say, nobody is taking jobs); when
``TNAAS_HEALTH_FAILED_GROWTH`` jobs failed within ``TNAAS_HEALTH_FAILED_WINDOW``; or when a worker
holds other models than the published ones. A single silent worker beside live ones is a note,
not a problem: jobs still flow, and rq forgets it after ``TNAAS_WORKER_SILENT``.

While `tnaas up` trains in the background, ``training`` lists what is ready and what is still training
(with when each should be ready), and a note says so: the stack answers meanwhile.

Each registry's snapshot (as the workers that load it report it in Redis) is listed with its state
and age; none, or a stale one (the scheduled refresh failing), is a note: marks still work without it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry

from availability.rules import REGISTRIES
from core.artifacts import trained_name_models
from core.errors import about
from core.examples import example_of
from core.settings import Settings
from store.availability import SnapshotStates, snapshot_state
from store.crash_loops import CrashLoops
from store.deploys import ModelVersions
from store.training import TrainingProgress


class WorkerHealth(BaseModel):
    """One worker, as rq knows it."""

    name: str = Field(description="rq's name for the worker", examples=["0c4e2c7009104dceb687339405b187c4"])
    pid: int | None = Field(None, description="its process id on its machine", examples=[4242])
    state: str = Field(description="rq's state: idle, busy, suspended...", examples=["idle"])
    models_version: str | None = Field(
        description="the models it holds (compare with models_published); null: not reported yet",
        examples=["e0b4c58938e6992e"],
    )
    heartbeat_age: float | None = Field(description="seconds since its last heartbeat; null: none yet", examples=[1.2])


class SnapshotHealth(BaseModel):
    """One registry's snapshot of names: what the "too similar" rules compare against."""

    registry: str = Field(description="the registry", examples=["pypi"])
    state: str = Field(
        description="none (never built: `tnaas availability refresh`), fresh, due for its refresh, or stale "
        "(older than twice TNAAS_AVAILABILITY_SNAPSHOT_REFRESH)",
        examples=["fresh"],
    )
    age: float | None = Field(None, description="seconds since it was built", examples=[3600.0])
    names: int | None = Field(None, description="names it holds", examples=[886000])
    source: str | None = Field(None, description="where its names came from", examples=["https://pypi.org/simple/"])


class TrainingHealth(BaseModel):
    """What `tnaas up` has trained, and what it is still training in the background (its first minutes)."""

    ready: list[str] = Field(description="the models trained, corpus/model", examples=[["pypi/kn5", "pokemon/kn3"]])
    training: dict[str, float] = Field(
        {},
        description="what is still training, with the seconds until it should be ready (empty: nothing)",
        examples=[{"pypi/kn3": 95.0, "language": 40.0}],
    )


class Health(BaseModel):
    """Readiness: ok, or the problems that keep the stack from answering."""

    ok: bool = Field(description="the stack can answer requests now", examples=[True])
    redis: bool = Field(description="Redis answers", examples=[True])
    models_published: str | None = Field(
        None, description="the model version deployed (the workers should hold it)", examples=["e0b4c58938e6992e"]
    )
    workers: list[WorkerHealth] = Field(
        [], description="the workers registered on the queue", examples=[[example_of(WorkerHealth)]]
    )
    queued: int = Field(0, description="jobs waiting for a worker", examples=[0])
    oldest_wait: float = Field(0.0, description="seconds the oldest waiting job has waited", examples=[0.0])
    running: int = Field(0, description="jobs a worker is running now", examples=[1])
    failed: int = Field(0, description="jobs in rq's failed registry", examples=[0])
    failed_recently: int = Field(0, description="jobs that failed within TNAAS_HEALTH_FAILED_WINDOW", examples=[0])
    snapshots: list[SnapshotHealth] = Field(
        [],
        description="each registry's snapshot of names (for the 'too similar' rules): its state and age",
        examples=[[example_of(SnapshotHealth)]],
    )
    training: TrainingHealth | None = Field(
        None,
        description="what is trained, and what is still training",
        examples=[{"ready": ["pypi/kn5", "pokemon/kn3"], "training": {"pypi/kn3": 95.0}}],
    )
    problems: list[str] = Field(
        [], description="why it is not ready (empty when ok)", examples=[["no worker is running"]]
    )
    notes: list[str] = Field(
        [],
        description="what is worth knowing but not a problem",
        examples=[["worker 7d1e0a9b2c3f4e5d6a7b8c9d0e1f2a3b silent for 40.5 s"]],
    )


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
    report.training = training(connection, settings, now)
    if report.training.training:
        soonest = min(report.training.training.values())
        report.notes.append(
            f"still training {len(report.training.training)} in the background (the next in {about(soonest)}): "
            + ", ".join(report.training.training)
        )
    for name, loop in CrashLoops(connection).current().items():
        report.notes.append(
            f"{name} is in a crash loop (last exit code {loop['exit_code']}, {loop['quick_exits']} quick exits "
            "in a row): `tnaas up` retries it while the rest serve; its log says why"
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


def training(connection: Redis, settings: Settings, now: float) -> TrainingHealth:
    """The models on disk, and what the stack's trainer has still to do (store.training)."""
    ready = [f"{c}/{m}" for c, models in trained_name_models(settings.artifacts_dir).items() for m in models]
    pending = {what: round(max(0.0, at - now), 1) for what, at in TrainingProgress(connection).ready_at().items()}
    return TrainingHealth(ready=ready, training=pending)
