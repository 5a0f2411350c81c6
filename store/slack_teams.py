"""Per-workspace state that keeps the bot within Slack's rate limits.

``reactions.add`` is a Tier 3 method: about 50 calls a minute per workspace. Seeding the keycaps on
every reply would stop a busy team after a few commands a minute, so seeds are budgeted (a sliding
minute, below the tier), paused when Slack answered 429, and stop altogether once a team has shown
that it knows the convention (enough of its people have voted with keycaps). The vote buttons need no call.
"""

from __future__ import annotations

import secrets
import time

from redis import Redis

from core.limits import KEYCAP_VOTES_TO_LEARN, SLACK_REACTIONS_PER_MINUTE

# Grant up to ARGV[2] of the ARGV[3] calls a sliding minute allows; one entry per granted call.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - 60)
local granted = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[1]))
for i = 1, granted do redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4] .. ':' .. i) end
redis.call('EXPIRE', KEYS[1], 120)
return math.max(granted, 0)
"""


class TeamHabits:
    VOTERS_KEY = "tnaas:team:{team}:keycap_voters"  # people who have voted with a keycap
    BUDGET_KEY = "tnaas:team:{team}:reactions"  # sorted set: one member per reactions.add in the last minute
    PAUSED_KEY = "tnaas:team:{team}:reactions_paused"  # set while Slack told us to wait

    def __init__(self, connection: Redis):
        self.redis = connection
        self._take = connection.register_script(_TAKE)

    def keycap_vote(self, team: str, user: str) -> None:
        """Note a person who voted with a keycap, until the team knows them (the set stays that small)."""
        key = self.VOTERS_KEY.format(team=team)
        if self.redis.scard(key) < KEYCAP_VOTES_TO_LEARN:
            self.redis.sadd(key, user)

    def knows_keycaps(self, team: str) -> bool:
        """Enough of the team's people have voted with keycaps that the convention is known."""
        return self.redis.scard(self.VOTERS_KEY.format(team=team)) >= KEYCAP_VOTES_TO_LEARN

    def forget(self, user: str) -> int:
        """Remove one person from every team's keycap voters (a privacy request); teams they were in."""
        removed = 0
        for key in self.redis.scan_iter(match=self.VOTERS_KEY.format(team="*"), count=1000):
            removed += self.redis.srem(key, user)
        return removed

    def seeds(self, team: str, wanted: int, per_minute: int = SLACK_REACTIONS_PER_MINUTE) -> int:
        """How many of ``wanted`` keycaps to seed now: none once the team knows them or while Slack
        asked us to wait, else as many as the minute's budget has left (each one counted)."""
        if wanted <= 0 or self.knows_keycaps(team) or self.redis.exists(self.PAUSED_KEY.format(team=team)):
            return 0
        now = time.time()
        return int(
            self._take(keys=[self.BUDGET_KEY.format(team=team)], args=[now, wanted, per_minute, secrets.token_hex(6)])
        )

    def pause(self, team: str, seconds: int) -> None:
        """Slack answered 429 with ``Retry-After: seconds``: no seeds for this team until then."""
        self.redis.set(self.PAUSED_KEY.format(team=team), 1, ex=max(1, int(seconds)))
