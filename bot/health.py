"""What /healthz reports: Redis reachable, workers alive, model versions loaded, queue lengths."""

from __future__ import annotations

from pydantic import BaseModel
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from store.deploys import ModelVersions


class WorkerHealth(BaseModel):
    name: str
    state: str
    models_version: str | None


class Health(BaseModel):
    ok: bool
    redis: bool
    models_published: str | None = None
    workers: list[WorkerHealth] = []
    queued: int = 0
    running: int = 0
    failed: int = 0
    problems: list[str] = []


def health(connection: Redis, queue_name: str) -> Health:
    try:
        connection.ping()
    except RedisError as err:
        return Health(ok=False, redis=False, problems=[f"redis unreachable: {err}"])
    q = Queue(queue_name, connection=connection)
    deploys = ModelVersions(connection)
    versions = deploys.held()
    workers = [
        WorkerHealth(name=w.name, state=str(w.get_state()), models_version=versions.get(w.name))
        for w in Worker.all(queue=q)
    ]
    report = Health(
        ok=True,
        redis=True,
        models_published=deploys.published(),
        workers=workers,
        queued=q.count,
        running=StartedJobRegistry(queue=q).count,
        failed=FailedJobRegistry(queue=q).count,
    )
    if not workers:
        report.problems.append("no worker is running")
    if report.models_published and any(w.models_version != report.models_published for w in workers):
        report.problems.append("a worker holds other models than the published version")
    report.ok = not report.problems
    return report
