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
        window = int(time.time() // WINDOW)
        keys = [f"{self.PREFIX}user:{team}:{user}:{window}", f"{self.PREFIX}team:{team}:{window}"]
        with self.redis.pipeline() as pipe:
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, WINDOW * 2)
            user_count, _, team_count, _ = pipe.execute()
        wait = WINDOW - int(time.time()) % WINDOW
        if user_count > user_limit:
            raise RateLimited("you", wait)
        if team_count > team_limit:
            raise RateLimited("this workspace", wait)
