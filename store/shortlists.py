"""Each Slack team's shortlist: the names people kept with the Shortlist button, to choose from later.

One hash per team, a field per name and corpus; its value says who added it and when. Adding is one
script (already there, full, or added), so adding twice, two people adding at once or a retried click
never makes a duplicate and never passes ``SHORTLIST_MAX``; removing what is gone does nothing. It is
part of the privacy rules with the votes: entries older than the retention period go with the
upkeep's purge, ``forget_user`` removes what one person added, ``forget_team`` all of a team's (the app
uninstalled).
"""

from __future__ import annotations

import json
import time
from typing import Literal

from pydantic import BaseModel
from redis import Redis

from core.limits import SHORTLIST_MAX

Added = Literal["added", "already", "full"]

# KEYS[1] the team's hash; ARGV: field, entry, most. 1 added, 0 already there, -1 full.
_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class ShortlistEntry(BaseModel):
    name: str
    corpus: str
    user: str  # who added it
    at: float  # when (epoch seconds)


class Shortlists:
    KEY = "tnaas:shortlist:{team}"  # hash: "corpus name" -> ShortlistEntry (JSON)

    def __init__(self, connection: Redis):
        self.redis = connection
        self._add = connection.register_script(_ADD)

    @staticmethod
    def field(name: str, corpus: str) -> str:
        """One entry per name and corpus (names and corpus names hold no spaces)."""
        return f"{corpus} {name}"

    def add(self, team: str, name: str, corpus: str, user: str, now: float | None = None) -> Added:
        entry = ShortlistEntry(name=name, corpus=corpus, user=user, at=time.time() if now is None else now)
        done = self._add(
            keys=[self.KEY.format(team=team)], args=[self.field(name, corpus), entry.model_dump_json(), SHORTLIST_MAX]
        )
        return {1: "added", 0: "already", -1: "full"}[int(done)]

    def remove(self, team: str, name: str, corpus: str) -> bool:
        """True if it was there; removing what is gone is no error (a second click, a stale Home tab)."""
        return bool(self.redis.hdel(self.KEY.format(team=team), self.field(name, corpus)))

    def entries(self, team: str) -> list[ShortlistEntry]:
        """The team's shortlist, oldest first."""
        raw = self.redis.hvals(self.KEY.format(team=team))
        return sorted((ShortlistEntry.model_validate_json(v) for v in raw), key=lambda e: (e.at, e.corpus, e.name))

    def _each_team(self):
        for key in self.redis.scan_iter(match=self.KEY.format(team="*"), count=500):
            yield key, self.redis.hgetall(key)

    def forget_user(self, user: str) -> int:
        """Remove every entry ``user`` added, in every team (a privacy request); how many went."""
        removed = 0
        for key, fields in self._each_team():
            mine = [f for f, v in fields.items() if json.loads(v)["user"] == user]
            removed += self.redis.hdel(key, *mine) if mine else 0
        return removed

    def purge_before(self, cutoff: float) -> int:
        """Remove entries added before ``cutoff`` (the retention period); how many went."""
        removed = 0
        for key, fields in self._each_team():
            old = [f for f, v in fields.items() if json.loads(v)["at"] < cutoff]
            removed += self.redis.hdel(key, *old) if old else 0
        return removed

    def forget_team(self, team: str) -> None:
        self.redis.delete(self.KEY.format(team=team))
