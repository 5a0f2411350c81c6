"""API answers, delivered without polling: the worker pushes a batch's replies to the batch's inbox,
where the web process that enqueued it is blocked in BLPOP; each reply is also kept under its answer
id (for a later poll, or a retry under the same idempotency key).

The methods return what the client returns: values with ``redis.Redis`` (the workers), awaitables
with ``redis.asyncio.Redis`` (the web process), so both sides share one definition of the keys.
"""

from __future__ import annotations

import orjson

# KEYS: the batch's inbox, then each reply's answer key; ARGV: the answer TTL, the inbox TTL, each reply's
# (answer id, reply JSON), then each reply's commands to run if this call keeps it (a JSON list each).
KEEP_AND_DELIVER = """
local n = #KEYS - 1
local parts, kept = {}, {}
for i = 1, n do
  local id, reply = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  if redis.call('SET', KEYS[1 + i], reply, 'NX', 'EX', ARGV[1]) then
    kept[i] = 1
    for _, command in ipairs(cjson.decode(ARGV[2 + 2 * n + i])) do redis.call(unpack(command)) end
  else
    kept[i] = 0
    reply = redis.call('GET', KEYS[1 + i]) or reply
  end
  parts[i] = cjson.encode(id) .. ':' .. reply
end
redis.call('RPUSH', KEYS[1], '{' .. table.concat(parts, ',') .. '}')
redis.call('EXPIRE', KEYS[1], ARGV[2])
return kept
"""


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

    def keep_and_deliver(
        self,
        job_id: str,
        replies: dict[str, bytes],
        when_kept: dict[str, list[tuple]],
        seconds: int,
        inbox_seconds: int,
    ) -> set[str]:
        """Keep each reply unless one is already kept under its id (a retried job answers as its first
        run did), run that reply's ``when_kept`` commands (its impressions) only if this call kept it,
        and push the replies that stand to the batch's inbox: one atomic round trip. Returns the ids
        kept by this call.

        Atomic, so a worker dying anywhere in a batch leaves each reply either kept with its impressions
        or not at all, and whoever waits gets the reply that stands, never a twin run's other one."""
        ids = list(replies)
        script = self.redis.register_script(KEEP_AND_DELIVER)
        kept = script(
            keys=[self.inbox(job_id), *(self.ANSWER.format(answer_id=a) for a in ids)],
            args=[
                max(1, seconds),
                max(1, inbox_seconds),
                *(x for a in ids for x in (a, replies[a])),
                *(orjson.dumps([[_text(arg) for arg in command] for command in when_kept.get(a, [])]) for a in ids),
            ],
        )
        return {a for a, k in zip(ids, kept) if k}

    async def wait(self, job_id: str, timeout: float) -> dict[str, dict] | None:
        """(asyncio client) The batch's replies by answer id, or None if none came within ``timeout`` s."""
        popped = await self.redis.blpop([self.inbox(job_id)], timeout=max(0.01, timeout))
        return None if popped is None else orjson.loads(popped[1])


def _text(arg) -> str:
    """A command's argument as the text Redis receives (what redis-py would send)."""
    return arg.decode() if isinstance(arg, bytes) else str(arg)
