"""Micro-batching in the web process: concurrent API requests of one kind go to the workers as one job.

A job costs RQ a dozen Redis round trips on each side whatever it carries, and the answer itself
(a reservoir draw) well under a millisecond, so under load most of a worker's time went to RQ's
bookkeeping. Here a request of a kind (generate, complete, ...) is sent at once, alone, while fewer
than ``TNAAS_BATCH_IN_FLIGHT`` requests of its kind are on their way (about one per worker): an idle
or lightly used stack adds no wait, and a few callers are answered side by side by the workers.
Otherwise the workers are busy anyway, and requests of that kind gather until a job comes back,
``TNAAS_BATCH_MAX`` requests or ``TNAAS_BATCH_WAIT`` seconds, then go together. (Counting jobs on
their way instead let each returning job release the next with a request or two, and under load the
workers spent their time on small jobs' bookkeeping; one job at a time batched well but made two
callers wait for each other. See docs/architecture.md, "An API call".)
The worker answers each on its own (own answer id, impressions, seed) and pushes the replies to
the batch's inbox, where ``Batch.wait`` is blocked in BLPOP: no polling, no thread per request.

Durability is the job's: the batch is one RQ job with RQ's retries; a worker killed mid-batch has
it retried by another, which keeps any reply the first already kept. If the web process dies
meanwhile, the answers are still kept under their ids (poll them, or retry under the idempotency key).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from starlette.concurrency import run_in_threadpool

from core.errors import Busy
from core.settings import Settings
from jobs.contracts import WebItem
from jobs.queueing import JobFailed, enqueue_web_batch, queue
from store.answers import Answers

log = logging.getLogger(__name__)
CHECK_JOB_EVERY = 1.0  # seconds: how often a waiting batch asks RQ whether its job failed for good
GIVEN_UP = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


@dataclass
class _Open:
    items: list[WebItem] = field(default_factory=list)
    futures: list[asyncio.Future] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class Batcher:
    """Groups concurrent requests by kind; ``ask`` returns the reply dict, or None if the worker has
    not answered within ``TNAAS_API_WAIT`` (the caller then gets the answer id to poll)."""

    def __init__(self, connection: Redis, answers: Answers, settings: Settings):
        self.connection, self.answers, self.settings = connection, answers, settings
        self.open: dict[str, _Open] = {}
        self.on_the_way: dict[str, int] = {}  # kind -> requests sent and not yet answered
        self.tasks: set[asyncio.Task] = set()
        self.queue_seen = 0  # the queue's length after this process' last enqueue
        # Set when the process is told to stop: requests still waiting get their answer id within
        # CHECK_JOB_EVERY (the job stays queued and is answered once a worker takes it), so the web
        # process answers everything in flight and exits within its grace period.
        self.draining = False

    def look_first(self) -> bool:
        """Look at the queue's length before enqueueing (Busy at TNAAS_MAX_QUEUE) only once the last
        enqueue saw it half full: an idle or keeping-up stack saves the round trip."""
        return self.queue_seen >= self.settings.max_queue // 2

    async def ask(self, item: WebItem) -> dict | None:
        # heavy requests gather apart: a batch is one job, in the heavy lane or not (jobs.queueing)
        kind = item.request.kind + (":heavy" if item.request.heavy else "")
        future = asyncio.get_running_loop().create_future()
        batch = self.open.setdefault(kind, _Open())
        batch.items.append(item)
        batch.futures.append(future)
        if len(batch.items) >= self.settings.batch_max or self.on_the_way.get(kind, 0) < self.settings.batch_in_flight:
            self._send(kind)
        elif batch.timer is None:
            batch.timer = asyncio.get_running_loop().call_later(self.settings.batch_wait, self._send, kind)
        return await future

    def _send(self, kind: str) -> None:
        batch = self.open.pop(kind, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        self.on_the_way[kind] = self.on_the_way.get(kind, 0) + len(batch.items)
        task = asyncio.create_task(self._run(kind, batch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, kind: str, batch: _Open) -> None:
        job_id = uuid.uuid4().hex
        try:
            await self.enqueue(batch.items, job_id)
            replies = await self.wait(job_id, self.settings.api_wait)
        except Exception as err:  # Busy, Redis down, the job failed: every request of the batch is told
            for future in batch.futures:
                if not future.done():
                    future.set_exception(err)
            return
        finally:
            self.on_the_way[kind] -= len(batch.items)
            if self.on_the_way[kind] < self.settings.batch_in_flight and kind in self.open:  # room again: send
                self._send(kind)
        for item, future in zip(batch.items, batch.futures):
            if not future.done():  # a caller that went away has cancelled its future
                future.set_result(None if replies is None else replies.get(item.answer_id))

    async def enqueue(self, items: list[WebItem], job_id: str) -> None:
        """The batch's job, enqueued by rq in one transaction (off the event loop: rq is synchronous);
        Busy when the queue is at TNAAS_MAX_QUEUE (looked at only once the last enqueue saw it half full)."""
        if (
            self.look_first()
            and await self.answers.redis.llen(queue(self.connection, self.settings).key) >= self.settings.max_queue
        ):
            raise Busy()
        self.queue_seen = await run_in_threadpool(enqueue_web_batch, self.connection, items, job_id, self.settings)

    async def wait(self, job_id: str, timeout: float) -> dict[str, dict] | None:
        """The batch's replies, blocked on its inbox; every second, whether RQ has given the job up."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and not self.draining:
            replies = await self.answers.wait(job_id, min(left, CHECK_JOB_EVERY))
            if replies is not None:
                return replies
            if deadline - time.monotonic() > 0:
                await run_in_threadpool(raise_if_given_up, self.connection, job_id)
        return None


def raise_if_given_up(connection: Redis, job_id: str) -> None:
    """JobFailed when RQ has failed the job for good (a worker died twice under it, say)."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return
    if job.get_status(refresh=False) in GIVEN_UP:
        result = job.latest_result()
        raise JobFailed(job_id, (result.exc_string if result else "") or "")
