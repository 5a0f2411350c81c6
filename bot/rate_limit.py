"""Per-user and per-workspace request limits: fixed one-minute windows in Redis, one pipeline each."""

from __future__ import annotations

import time

from redis import Redis

from tnaas.errors import TNaaSError

WINDOW = 60


class RateLimited(TNaaSError):
    def __init__(self, who: str, seconds: int):
        verb = "have" if who == "you" else "has"
        super().__init__(f"Easy there: {who} {verb} asked a lot in the last minute. Try again in {seconds} s.")


def check_rate(connection: Redis, team: str, user: str, user_limit: int, team_limit: int) -> None:
    """Count this request; raise RateLimited when the user or the workspace is over its limit."""
    window = int(time.time() // WINDOW)
    keys = [f"tnaas:rate:user:{team}:{user}:{window}", f"tnaas:rate:team:{team}:{window}"]
    with connection.pipeline() as pipe:
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, WINDOW * 2)
        user_count, _, team_count, _ = pipe.execute()
    wait = WINDOW - int(time.time()) % WINDOW
    if user_count > user_limit:
        raise RateLimited("you", wait)
    if team_count > team_limit:
        raise RateLimited("this workspace", wait)
