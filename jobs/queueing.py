"""Putting requests on the queue: RQ's timeouts, TTLs and retries, plus backpressure.

A reply that arrives minutes late is worse than "busy, try again": when the queue is longer than
``max_queue`` nothing is enqueued, and a job that waited ``queue_ttl`` seconds without a worker is
dropped by RQ itself (``ttl``) rather than run late.
"""

from __future__ import annotations

import math

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job, JobStatus

from jobs import tasks
from jobs.contracts import HomeJob, ReplyTo, Request, SlackJob, WebJob
from tnaas.errors import Busy
from tnaas.observability import current_request_id, new_request_id
from tnaas.settings import Settings, get_settings


def queue(connection: Redis, settings: Settings | None = None) -> Queue:
    settings = settings or get_settings()
    return Queue(settings.queue, connection=connection)


def enqueue(connection: Redis, request: Request, settings: Settings | None = None, **job_kwargs) -> Job:
    """Enqueue one typed request; raises Busy instead of letting the queue grow without bound."""
    return _enqueue(connection, tasks.answer_request, request.model_dump(), settings, **job_kwargs)


def enqueue_slack(connection: Redis, request: Request, reply: ReplyTo, settings: Settings | None = None) -> Job:
    """Enqueue a request whose answer the worker posts to Slack itself (see jobs.slack_reply).

    No RQ ``ttl`` here: a stale Slack job must still run, to tell the user "busy" instead of vanishing;
    and when it fails for good, ``on_failure`` tells the user privately.
    """
    job = SlackJob(request=request, reply=reply)
    return _enqueue(
        connection,
        tasks.reply_in_slack,
        job.model_dump(),
        settings,
        ttl=None,
        on_failure=Callback(tasks.tell_user_it_failed),
    )


def enqueue_home(connection: Redis, home: HomeJob, settings: Settings | None = None) -> Job:
    """Publish someone's App Home tab (a Slack call, so a worker's job, never the web process's)."""
    return _enqueue(connection, tasks.publish_home, home.model_dump(), settings)


def enqueue_web(connection: Redis, request: Request, client: str, settings: Settings | None = None) -> Job:
    """Enqueue an API / web page request; the job id is the answer id that votes refer to."""
    return _enqueue(connection, tasks.answer_on_web, WebJob(request=request, client=client).model_dump(), settings)


def _enqueue(connection: Redis, func, payload: dict, settings: Settings | None, **job_kwargs) -> Job:
    settings = settings or get_settings()
    q = queue(connection, settings)
    if q.count >= settings.max_queue:
        raise Busy()
    options = {
        # rq shows a job's description in `rq info` and its logs; the default is the call with its
        # payload (user ids, text), so it is only the kind of job here.
        "description": func.__name__,
        "meta": {"request_id": current_request_id() or new_request_id()},  # the worker logs under it
        "job_timeout": settings.job_timeout,
        "result_ttl": settings.result_ttl,
        "failure_ttl": settings.failure_ttl,
        "ttl": settings.queue_ttl,
        "retry": Retry(max=settings.retries) if settings.retries else None,
    }
    return q.enqueue(func, payload, **(options | job_kwargs))


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
