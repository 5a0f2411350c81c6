"""The bandit's evidence: per (corpus, model) and per corpus, generated candidates shown, shown in a
message someone voted on (judged), and up-voted."""

from __future__ import annotations

import time

from redis import Redis

from store.team_corpora import PRIVATE_MARK


class ArmCounts:
    """One hash: ``model:<corpus>:<model>:shown`` / ``:judged`` / ``:up`` and the same per corpus.

    ``up`` counts candidates with at least one up-vote, so a candidate two people like counts once.
    ``judged`` counts candidates shown in a message that got a vote (up or down, on any of its names):
    a message nobody voted on says nothing of its names (a team that rarely votes leaves most of them),
    so the bandit learns from judged names only, and impressions alone never move it.
    """

    KEY = "tnaas:arms"

    def __init__(self, connection: Redis):
        self.redis = connection

    def shown_commands(self, corpus: str, model: str, shown: int) -> list[tuple]:
        """The commands that count impressions shown, for the caller to send with them."""
        return [
            ("HINCRBY", self.KEY, f"model:{corpus}:{model}:shown", shown),
            ("HINCRBY", self.KEY, f"corpus:{corpus}:shown", shown),
        ]

    def judged_commands(self, corpus: str, model: str, shown: int) -> list[tuple]:
        """The commands that count a message's names as judged (its first vote; store.votes' script does the same)."""
        return [
            ("HINCRBY", self.KEY, f"model:{corpus}:{model}:judged", shown),
            ("HINCRBY", self.KEY, f"corpus:{corpus}:judged", shown),
        ]

    def add_up(self, corpus: str, model: str, step: int) -> None:
        """A candidate became up-voted (+1) or stopped being up-voted (-1)."""
        with self.redis.pipeline() as pipe:
            pipe.hincrby(self.KEY, f"model:{corpus}:{model}:up", step)
            pipe.hincrby(self.KEY, f"corpus:{corpus}:up", step)
            pipe.execute()

    def forget_corpus(self, corpus: str) -> None:
        """Drop one corpus' counters (a team's corpus deleted)."""
        mine = [f for f in self.redis.hkeys(self.KEY) if f.decode().split(":")[1] == corpus]
        if mine:
            self.redis.hdel(self.KEY, *mine)

    def fields(self) -> dict[bytes, bytes]:
        return self.redis.hgetall(self.KEY)

    def counts(self, kind: str = "model", corpus: str | None = None) -> dict[str, tuple[int, int]]:
        """{arm: (up, shown)}: models of one corpus, models summed over corpora, or corpora (kind="corpus")."""
        return tally(self.fields(), kind, corpus, "shown")

    def evidence(self, corpus: str) -> dict[str, tuple[int, int]]:
        """{model: (up, judged)} for one corpus: what the bandit learns from (votes, and the names they judged)."""
        return tally(self.fields(), "model", corpus, "judged")


def tally(fields: dict[bytes, bytes], kind: str, corpus: str | None, of: str = "shown") -> dict[str, tuple[int, int]]:
    """``ArmCounts.counts`` of the hash's ``fields``: (up, ``of``) per arm, ``of`` "shown" or "judged".

    An arm up-voted before judged names were counted (an older release) is judged on all its names shown."""
    counts: dict[str, dict[str, int]] = {}
    for field, value in fields.items():
        parts = field.decode().split(":")
        if parts[0] != kind:
            continue
        if kind == "model":
            _, arm_corpus, arm, what = parts
            if arm_corpus != corpus and (corpus is not None or PRIVATE_MARK in arm_corpus):
                continue  # another corpus; a team's private one counts only when asked for by its id
        else:
            _, arm, what = parts
            if PRIVATE_MARK in arm:
                continue
        seen = counts.setdefault(arm, {})
        seen[what] = seen.get(what, 0) + int(value)
    out = {}
    for arm, seen in counts.items():
        up, judged = seen.get("up", 0), seen.get(of, 0)
        if of == "judged" and not judged and up:
            judged = max(up, seen.get("shown", 0))
        if of == "shown" or judged:
            out[arm] = (up, judged)
    return out


class RecentArms(ArmCounts):
    """The counts as read at most ``fresh`` seconds ago (one HGETALL, then reused): a worker answering
    jobs back to back reads them once per ``fresh`` instead of once per job. The bandit samples from
    counts that grow by a handful each answer; a tenth of a second's lag decides the same."""

    def __init__(self, connection: Redis, fresh: float):
        super().__init__(connection)
        self.fresh = fresh
        self.cached: dict[bytes, bytes] = {}
        self.read_at = float("-inf")

    def fields(self) -> dict[bytes, bytes]:
        if time.monotonic() - self.read_at > self.fresh:
            self.cached = self.redis.hgetall(self.KEY)
            self.read_at = time.monotonic()
        return self.cached
