"""Rate limits per user and per workspace: fixed one-minute windows in Redis, one pipeline each."""

from __future__ import annotations

import time

from redis import Redis

from tnaas.errors import TNaaSError

WINDOW = 60


class RateLimited(TNaaSError):
    def __init__(self, who: str, seconds: int):
        verb = "have" if who == "you" else "has"
        super().__init__(f"Easy there: {who} {verb} asked a lot in the last minute. Try again in {seconds} s.")


class RateLimits:
    PREFIX = "tnaas:rate:"

    def __init__(self, connection: Redis):
        self.redis = connection

    def check(self, team: str, user: str, user_limit: int, team_limit: int) -> None:
        """Count this request; raise RateLimited when the user or the workspace is over its limit."""
        self.check_each([(f"user:{team}:{user}", user_limit, "you"), (f"team:{team}", team_limit, "this workspace")])

    def check_each(self, counters: list[tuple[str, int, str]]) -> None:
        """Count this request under each ``(counter, limit, who)``; RateLimited(who) for the first one over."""
        window = int(time.time() // WINDOW)
        with self.redis.pipeline() as pipe:
            for name, _, _ in counters:
                key = f"{self.PREFIX}{name}:{window}"
                pipe.incr(key)
                pipe.expire(key, WINDOW * 2)
            counts = pipe.execute()[::2]
        wait = WINDOW - int(time.time()) % WINDOW
        for count, (_, limit, who) in zip(counts, counters):
            if count > limit:
                raise RateLimited(who, wait)
