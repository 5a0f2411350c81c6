"""API answers, delivered without polling: the worker pushes a batch's replies to the batch's inbox,
where the web process that enqueued it is blocked in BLPOP; each reply is also kept under its answer
id (for a later poll, or a retry under the same idempotency key).

The methods return what the client returns: values with ``redis.Redis`` (the workers), awaitables
with ``redis.asyncio.Redis`` (the web process), so both sides share one definition of the keys.
"""

from __future__ import annotations

import orjson


class Answers:
    ANSWER = "tnaas:answer:{answer_id}"  # the reply (JSON), kept as long as a job's result
    JOB = "tnaas:answer-job:{answer_id}"  # the RQ job that carries the request
    INBOX = "tnaas:answer-inbox:{job_id}"  # a list: the batch's replies, pushed once, popped by the web

    def __init__(self, connection):
        self.redis = connection

    @classmethod
    def inbox(cls, job_id: str) -> str:
        return cls.INBOX.format(job_id=job_id)

    def assign(self, pipe, answer_ids: list[str], job_id: str, seconds: int) -> None:
        """In ``pipe``: each answer id belongs to ``job_id`` (the poll route looks its status up)."""
        for answer_id in answer_ids:
            pipe.set(self.JOB.format(answer_id=answer_id), job_id, ex=max(1, seconds))

    def job_of(self, answer_id: str):
        return self.redis.get(self.JOB.format(answer_id=answer_id))

    def get(self, answer_id: str):
        """The stored reply (JSON bytes), or None while there is none."""
        return self.redis.get(self.ANSWER.format(answer_id=answer_id))

    def get_many(self, answer_ids: list[str]):
        return self.redis.mget([self.ANSWER.format(answer_id=a) for a in answer_ids])

    def keep(self, pipe, replies: dict[str, bytes], seconds: int) -> None:
        """In ``pipe``: keep each reply unless one is already kept (a retried job answers as its first
        run did); the pipeline's results say, reply by reply, whether this one was kept (True) or not."""
        for answer_id, reply in replies.items():
            pipe.set(self.ANSWER.format(answer_id=answer_id), reply, ex=max(1, seconds), nx=True)

    def deliver(self, pipe, job_id: str, replies: dict[str, bytes], seconds: int) -> None:
        """In ``pipe``: push the batch's replies to its inbox, which vanishes if nobody is waiting."""
        inbox = self.inbox(job_id)
        pipe.rpush(inbox, orjson.dumps({a: orjson.Fragment(r) for a, r in replies.items()}))
        pipe.expire(inbox, max(1, seconds))

    async def wait(self, job_id: str, timeout: float) -> dict[str, dict] | None:
        """(asyncio client) The batch's replies by answer id, or None if none came within ``timeout`` s."""
        popped = await self.redis.blpop([self.inbox(job_id)], timeout=max(0.01, timeout))
        return None if popped is None else orjson.loads(popped[1])
