"""Rate limits per user and per workspace: fixed one-minute windows in Redis, one script call each
(hourly ones for what costs a worker seconds, such as a corpus upload)."""

from __future__ import annotations

import time

from redis import Redis

from core.errors import TNaaSError

WINDOW = 60
HOUR = 3600


class RateLimited(TNaaSError):
    def __init__(self, who: str, seconds: int, span: str = "minute"):
        verb = "have" if who == "you" else "has"
        self.seconds = seconds
        super().__init__(f"Easy there: {who} {verb} asked a lot in the last {span}. Try again in {seconds} s.")


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

    def check_each(self, counters: list[tuple[str, int, str]], window: int = WINDOW) -> None:
        """Count this request under each ``(counter, limit, who)`` in this ``window`` (seconds: a minute, or
        ``HOUR``); RateLimited(who) for the first one over."""
        counts = self.redis.register_script(COUNT)(keys=_keys(counters, window), args=[window * 2])
        _over(counts, counters, window)

    def uncount(self, counters: list[tuple[str, int, str]], window: int = WINDOW) -> None:
        """Give back what ``check_each`` counted for a request that came to nothing (refused after all)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key in _keys(counters, window):
                pipe.decr(key)
            pipe.execute()

    async def check_async(self, counters: list[tuple[str, int, str]]) -> None:
        """``check_each`` on a ``redis.asyncio`` connection (the web process): one round trip, one reply, no thread."""
        _over(await self.redis.register_script(COUNT)(keys=_keys(counters), args=[WINDOW * 2]), counters)


def counters_of(team: str, user: str, user_limit: int, team_limit: int) -> list[tuple[str, int, str]]:
    """A request's counters ``(name, limit, who)``: its user's in the workspace, and the workspace's."""
    return [(f"user:{team}:{user}", user_limit, "you"), (f"team:{team}", team_limit, "this workspace")]


def corpus_upload_counters(team: str, user: str, per_hour: int) -> list[tuple[str, int, str]]:
    """The counter of corpus uploads one person of a workspace sends from Slack (``HOUR`` windows)."""
    return [(f"corpus-upload:{team}:{user}", per_hour, "you")]


def web_counters(kind: str, person: str, address: str, limit: int, people: int) -> list[tuple[str, int, str]]:
    """A web request's counters: its person's (``limit``), then its address' flood guard, ``people`` times
    as many, so that many people behind one address each get their own allowance and no one client floods."""
    return [(f"{kind}:{person}", limit, "you"), (f"{kind}-address:{address}", limit * people, "your address")]


def _keys(counters: list[tuple[str, int, str]], window: int = WINDOW) -> list[str]:
    index = int(time.time() // window)
    suffix = "" if window == WINDOW else f":{window}s"  # a minute's keys as they always were
    return [f"{RateLimits.PREFIX}{name}:{index}{suffix}" for name, _, _ in counters]


def _over(counts: list[int], counters: list[tuple[str, int, str]], window: int = WINDOW) -> None:
    wait = window - int(time.time()) % window
    for count, (_, limit, who) in zip(counts, counters):
        if count > limit:
            raise RateLimited(who, wait, "minute" if window == WINDOW else "hour")
