"""Slack requests that wait for a worker together: one RQ job per batch, whose requests are kept here.

A worker posts a Slack reply in two or three calls, each a network round trip to Slack (100-300 ms),
so a worker that answers one request per job spends most of its time waiting. A batch is open from the
moment its job is enqueued until a worker takes it: every request that arrives meanwhile joins it
(``join``), and the worker answers them together, posting their replies side by side. An idle stack
takes each batch at once (a batch of one); a busy one gathers everything that would have waited in the
queue anyway.

Keys: ``open`` (a list: the requests, as JSON) exists only until a worker takes the batch, which renames
it to ``taken`` in one atomic command. A request joins with RPUSHX, which only pushes onto a list that
exists: it is either in the batch the worker reads or told to open a new one, never in between. The
first request is pushed in the same transaction that enqueues the job, so no acknowledged request is in
a batch without a job. A job run again (its worker died, rq's retry) reads the same ``taken`` list.
"""

from __future__ import annotations

from contextlib import suppress

from redis import Redis
from redis.exceptions import ResponseError

from store.connection import acknowledged


class SlackBatches:
    OPEN = "tnaas:slack-batch:{batch}"
    TAKEN = "tnaas:slack-batch-taken:{batch}"

    TTL = 24 * 3600  # a queued Slack job never expires (it must at least say "busy"): its batch outlives it

    def __init__(self, connection: Redis):
        self.redis = connection

    def start(self, pipe, batch: str, item: bytes) -> None:
        """In ``pipe`` (with the batch's job): the batch, open, holding its first request."""
        key = self.OPEN.format(batch=batch)
        pipe.rpush(key, item)
        pipe.expire(key, self.TTL)

    def drop(self, batch: str) -> None:
        """Forget an open batch whose job could not be enqueued (its requests were not acknowledged)."""
        self.redis.delete(self.OPEN.format(batch=batch))

    def join(self, batch: str, item: bytes) -> int:
        """Add a request to an open batch: the batch's size with it, or 0 if the batch is taken (or gone).
        Under Sentinel, once a replica has it (the request is acknowledged to Slack after this)."""
        return int(acknowledged(self.redis, lambda pipe: pipe.rpushx(self.OPEN.format(batch=batch), item))[0])

    def confirm(self, batch: str) -> None:
        """After the transaction that opened the batch (``start``), before its request is acknowledged:
        under Sentinel, return once a replica has it. ``WAIT`` counts one connection's writes, and the
        transaction's connection is back in the pool, so a write on the batch's keys follows it here: a
        replica that has this write has everything the primary ran before it."""
        acknowledged(
            self.redis,
            lambda pipe: pipe.expire(self.OPEN.format(batch=batch), self.TTL).expire(
                self.TAKEN.format(batch=batch), self.TTL
            ),
        )

    def take(self, batch: str) -> list[bytes]:
        """(worker) Close the batch to newcomers and read its requests; again the same on a rerun."""
        taken = self.TAKEN.format(batch=batch)
        with suppress(ResponseError):  # no such key: an earlier run of this job took it
            self.redis.rename(self.OPEN.format(batch=batch), taken)
        with self.redis.pipeline() as pipe:
            pipe.expire(taken, self.TTL)
            pipe.lrange(taken, 0, -1)
            return _once(pipe.execute()[1])

    def items(self, batch: str) -> list[bytes]:
        """The batch's requests, taken or not, without taking it (what is waiting: for a look from outside)."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(self.TAKEN.format(batch=batch), 0, -1)
            pipe.lrange(self.OPEN.format(batch=batch), 0, -1)
            taken, waiting = pipe.execute()
        return _once(taken or waiting)


def _once(items: list[bytes]) -> list[bytes]:
    """Each request once: a join whose reply from Redis was lost is sent again by redis-py's retry, and
    the request would be in the batch twice (two threads posting one reply at once)."""
    return list(dict.fromkeys(items))
