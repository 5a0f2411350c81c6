"""Rate limits per user and per workspace: fixed one-minute windows in Redis, one script call each."""

from __future__ import annotations

import time

from redis import Redis

from core.errors import TNaaSError

WINDOW = 60


class RateLimited(TNaaSError):
    def __init__(self, who: str, seconds: int):
        verb = "have" if who == "you" else "has"
        super().__init__(f"Easy there: {who} {verb} asked a lot in the last minute. Try again in {seconds} s.")


# KEYS: the counters of this window; ARGV[1]: their life. Each counted, their counts returned: one reply.
COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[1])
end
return counts
"""


class RateLimits:
    PREFIX = "tnaas:rate:"

    def __init__(self, connection: Redis):
        self.redis = connection

    def check(self, team: str, user: str, user_limit: int, team_limit: int) -> None:
        """Count this request; raise RateLimited when the user or the workspace is over its limit."""
        self.check_each(counters_of(team, user, user_limit, team_limit))

    def check_each(self, counters: list[tuple[str, int, str]]) -> None:
        """Count this request under each ``(counter, limit, who)``; RateLimited(who) for the first one over."""
        _over(self.redis.register_script(COUNT)(keys=_keys(counters), args=[WINDOW * 2]), counters)

    async def check_async(self, counters: list[tuple[str, int, str]]) -> None:
        """``check_each`` on a ``redis.asyncio`` connection (the web process): one round trip, one reply, no thread."""
        _over(await self.redis.register_script(COUNT)(keys=_keys(counters), args=[WINDOW * 2]), counters)


def counters_of(team: str, user: str, user_limit: int, team_limit: int) -> list[tuple[str, int, str]]:
    """A request's counters ``(name, limit, who)``: its user's in the workspace, and the workspace's."""
    return [(f"user:{team}:{user}", user_limit, "you"), (f"team:{team}", team_limit, "this workspace")]


def web_counters(kind: str, person: str, address: str, limit: int, people: int) -> list[tuple[str, int, str]]:
    """A web request's counters: its person's (``limit``), then its address' flood guard, ``people`` times
    as many, so that many people behind one address each get their own allowance and no one client floods."""
    return [(f"{kind}:{person}", limit, "you"), (f"{kind}-address:{address}", limit * people, "your address")]


def _keys(counters: list[tuple[str, int, str]]) -> list[str]:
    window = int(time.time() // WINDOW)
    return [f"{RateLimits.PREFIX}{name}:{window}" for name, _, _ in counters]


def _over(counts: list[int], counters: list[tuple[str, int, str]]) -> None:
    wait = WINDOW - int(time.time()) % WINDOW
    for count, (_, limit, who) in zip(counts, counters):
        if count > limit:
            raise RateLimited(who, wait)
