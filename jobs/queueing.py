"""Putting requests on the queue: RQ's timeouts, TTLs and retries, plus backpressure.

A reply that arrives minutes late is worse than "busy, try again": when the queue is longer than
``max_queue`` nothing is enqueued, and a job that waited ``queue_ttl`` seconds without a worker is
answered "busy" by the worker that finally takes it (``jobs.tasks.too_late``) and by the API's
poll meanwhile, rather than run late. Jobs are not expired by RQ while they may still run (an
expired job is a "no such answer" to its caller): a job never taken is forgotten after
``result_ttl``, like an answer.

Heavy requests (``Request.heavy``: long patterns, pomegranate models) take rq's concurrency limit
``heavy_lane``: at most TNAAS_HEAVY_CONCURRENCY of them are queued or running at once, the others wait
their turn in rq's rate-limited registry (at most TNAAS_MAX_HEAVY_QUEUE, then "busy"), so one caller's
heavy requests never hold every worker while others' quick ones wait.

A request retried with the same idempotency key (a client whose connection dropped) gets the
job of its first try, never a second one: the job id is derived from the key and the request.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.rate_limit import RateLimit, RateLimitRegistry

from core.errors import Busy
from core.observability import current_request_id, new_request_id
from core.settings import Settings, get_settings
from jobs.contracts import CorpusJob, Request, WebBatch, WebItem, WebJob
from store.answers import Answers
from store.claims import Claims


def queue(connection: Redis, settings: Settings | None = None) -> Queue:
    settings = settings or get_settings()
    return Queue(settings.queue, connection=connection)


def heavy_lane(settings: Settings) -> RateLimit:
    """rq's concurrency limit that heavy requests share (one per queue)."""
    return RateLimit(f"{settings.queue}:heavy", settings.heavy_concurrency)


def enqueue(connection: Redis, request: Request, settings: Settings | None = None, **job_kwargs) -> Job:
    """Enqueue one typed request; raises Busy instead of letting the queue grow without bound."""
    return enqueue_call(
        connection, "jobs.tasks.answer_request", request.model_dump(), settings, heavy=request.heavy, **job_kwargs
    )


def enqueue_web(
    connection: Redis, request: Request, client: str, settings: Settings | None = None, key: str | None = None
) -> Job:
    """Enqueue an API / web page request; the job id is the answer id that votes refer to.

    With an idempotency ``key``, the first call enqueues and every later one (the same client, key and
    request) returns that same job, finished or not.
    """
    payload = WebJob(request=request, client=client).model_dump()
    heavy = request.heavy
    if key is None:
        return enqueue_call(connection, "jobs.tasks.answer_on_web", payload, settings, heavy=heavy)
    settings = settings or get_settings()
    job_id = idempotent_job_id(key, request, client)
    if Claims(connection).claim(job_id, settings.result_ttl):
        return enqueue_call(connection, "jobs.tasks.answer_on_web", payload, settings, heavy=heavy, job_id=job_id)
    if (job := _fetch_soon(connection, job_id)) is not None:
        return job
    # Claimed, but no job: its first request died between the claim and the enqueue.
    return enqueue_call(connection, "jobs.tasks.answer_on_web", payload, settings, heavy=heavy, job_id=job_id)


def enqueue_web_batch(connection: Redis, items: list[WebItem], job_id: str, settings: Settings) -> int:
    """One job answering API requests sent together (see ``bot.api.batching``; a batch is all light or
    all heavy), with their answer ids pointing at it. A light batch is one transaction (rq writes the
    job into our pipeline): an answer id never exists without the job that answers it. rq enqueues a
    heavy one on its own (a rate-limited job takes no pipeline): the ids follow it. Returns the
    queue's length after it.

    (rq keeps the job's small result as usual: with ``result_ttl=0`` rq deletes the job on success,
    nine round trips more.)"""
    payload = WebBatch(items=items).model_dump()
    heavy = any(item.request.heavy for item in items)
    func = "jobs.tasks.answer_web_batch"
    with connection.pipeline() as pipe:
        if heavy:
            enqueue_call(connection, func, payload, settings, look=False, heavy=True, job_id=job_id)
        else:
            enqueue_call(connection, func, payload, settings, look=False, job_id=job_id, pipeline=pipe)
        Answers(connection).assign(pipe, [item.answer_id for item in items], job_id, settings.result_ttl)
        pipe.llen(queue(connection, settings).key)
        return pipe.execute()[-1]


def enqueue_corpus_training(connection: Redis, owner: str, corpus: str, job_id: str, settings: Settings) -> Job:
    """Queue training a team corpus whose list ``store.team_corpora`` keeps (``begin``), under its own
    timeout; retried if its worker dies, and its state says so if it fails for good. In the heavy lane:
    a training holds its worker for seconds, so at most TNAAS_HEAVY_CONCURRENCY run at once and the other
    workers stay free for everyone's requests."""
    return enqueue_call(
        connection,
        "jobs.tasks.train_corpus",
        CorpusJob(owner=owner, corpus=corpus).model_dump(),
        settings,
        heavy=True,
        job_timeout=settings.team_corpus_timeout,
        on_failure=Callback("jobs.tasks.corpus_training_failed"),
        job_id=job_id,
    )


def corpus_lock_seconds(settings: Settings) -> int:
    """How long one upload holds its corpus (two uploads at once: the second is refused): the job's
    every try, and the wait for a worker."""
    return settings.team_corpus_timeout * (settings.retries + 1) + settings.queue_ttl + settings.worker_silent


def idempotent_job_id(key: str, request: Request, caller: str) -> str:
    """The job id for this caller's key and this request (another request under the same key is
    another job; another caller's same key and request too: a key is its caller's, not a way to reach
    someone else's answer)."""
    return hashlib.sha256(f"{caller}\n{key}\n{request.model_dump_json()}".encode()).hexdigest()[:32]


def _fetch_soon(connection: Redis, job_id: str, within: float = 1.0) -> Job | None:
    """The job, waiting briefly for a concurrent twin request that has claimed it to enqueue it."""
    deadline = time.monotonic() + within
    while True:
        try:
            return Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)


def enqueue_call(
    connection: Redis,
    func: str | Callable,
    payload,
    settings: Settings | None,
    look: bool = True,
    heavy: bool = False,
    **job_kwargs,
) -> Job:
    """Enqueue ``func(payload)`` (a dotted path: the caller need not import the worker's code) with the
    stack's timeouts, TTLs, retries and backpressure (``look``: Busy when the queue is at
    TNAAS_MAX_QUEUE; the caller that skips the look bounds it otherwise); ``heavy``: in the heavy lane,
    Busy when TNAAS_MAX_HEAVY_QUEUE heavy requests wait already."""
    settings = settings or get_settings()
    q = queue(connection, settings)
    if look and q.count >= settings.max_queue:
        raise Busy()
    if heavy:
        lane = heavy_lane(settings)
        if RateLimitRegistry(lane.key, connection).get_rate_limited_job_count() >= settings.max_heavy_queue:
            raise Busy()
        job_kwargs["rate_limit"] = lane
    options = {
        # rq shows a job's description in `rq info` and its logs; the default is the call with its
        # payload (user ids, text), so it is only the kind of job here.
        "description": (func if isinstance(func, str) else func.__name__).rsplit(".", 1)[-1],
        "meta": {"request_id": current_request_id() or new_request_id()},  # the worker logs under it
        "job_timeout": settings.job_timeout,
        "result_ttl": settings.result_ttl,
        "failure_ttl": settings.failure_ttl,
        # Never expire a job that may still run: one never taken is forgotten like an answer.
        "ttl": max(settings.queue_ttl, settings.result_ttl),
        "retry": Retry(max=settings.retries) if settings.retries else None,
    }
    return q.enqueue(func, payload, **(options | job_kwargs))


def waited_too_long(job: Job, settings: Settings) -> bool:
    """Still queued after TNAAS_QUEUE_TTL: its caller is told "busy" (the worker will say so too)."""
    return job.get_status(refresh=False) == JobStatus.QUEUED and queued_too_long(job.enqueued_at, settings.queue_ttl)


def queued_too_long(enqueued_at: datetime | None, ttl: int, now: datetime | None = None) -> bool:
    """A reply this late would only confuse: say "busy" instead."""
    if enqueued_at is None:
        return False
    now = now or datetime.now(UTC)
    return (now - enqueued_at.replace(tzinfo=enqueued_at.tzinfo or UTC)).total_seconds() > ttl


def wait_for(job: Job, timeout: float) -> dict | None:
    """The job's return value, or None if it has not finished within ``timeout`` seconds.

    Blocks on RQ's result stream (no polling loop); a job that failed for good raises.
    """
    result = job.latest_result(timeout=max(1, math.ceil(timeout)))  # whole seconds: Redis XREAD BLOCK wants an int
    if result is None:
        return None
    if result.type == result.Type.SUCCESSFUL:
        return result.return_value
    if job.get_status(refresh=True) in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        raise JobFailed(job.id, result.exc_string or "")
    return None  # failed once, retry scheduled


class JobFailed(RuntimeError):
    def __init__(self, job_id: str, reason: str):
        self.job_id, self.reason = job_id, reason
        super().__init__(f"job {job_id} failed: {reason.strip().splitlines()[-1] if reason.strip() else 'unknown'}")
