"""Votes and impressions: the reranking dataset, kept in Redis.

Every candidate the bot shows is an impression, stored with the request that produced it (corpus,
model, model version, pattern, scores). A keycap reaction (:one: ... :keycap_ten:) on a candidate
message is an up-vote for that candidate; :+1: / :-1: on a single-candidate message count too.
Votes have set semantics per (message, candidate, user, direction): adding twice counts once and
removing undoes. The web page votes through the same store (channel ``web``, one "message" per
answer); Slack's vote buttons too. The bandit's counters (``store.arms``) move with the impressions
and up-votes recorded here.

``forget_user`` deletes one person's votes and the requests they made (a privacy request);
``purge_before`` forgets everything past the retention period (the scheduler's upkeep).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import NamedTuple

from pydantic import BaseModel
from redis import Redis
from redis.exceptions import WatchError

from store.arms import ArmCounts

KEYCAPS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "keycap_ten"]
THUMBS = {"+1": 1, "thumbsup": 1, "-1": -1, "thumbsdown": -1}
WEB_CHANNEL = "web"  # votes from the page and the API: one "message" per answer id


class Impression(BaseModel):
    channel: str
    ts: str  # the candidate message
    index: int  # 1-based position shown
    name: str
    corpus: str
    model: str
    model_version: str
    pattern: str | None = None
    like: str | None = None  # `like NAME`: the name these candidates are near
    log_prob: float | None = None
    believability: float | None = None
    real: float | None = None  # P(real name) from the model's adversarial judge
    judge: dict[str, float] | None = None  # the judge's probability for every corpus
    nll: dict[str, float | None] | None = None  # nats per character under every model of the corpus
    known: bool = False
    explore: bool = False  # shown at random from the sample, not for its score (see models.ranking)
    requested_n: int | None = None
    requested_by: str | None = None
    surface: str = "slack"
    team: str | None = None  # the Slack workspace (None on the web)
    shown_at: float


class TopName(NamedTuple):
    """A best-voted name with the corpus it was made for: the same letters in two corpora are two names."""

    name: str
    corpus: str
    votes: int  # net: up minus down


class Vote(BaseModel):
    channel: str
    ts: str
    index: int
    user: str
    direction: int  # +1 or -1


def vote_for_reaction(reaction: str, candidates: int) -> tuple[int, int] | None:
    """(candidate index, direction) a reaction means on a message with ``candidates`` names."""
    name = reaction.split("::", 1)[0]  # skin tones: "+1::skin-tone-2"
    if name in KEYCAPS and KEYCAPS.index(name) < candidates:
        return KEYCAPS.index(name) + 1, 1
    if name in THUMBS and candidates == 1:
        return 1, THUMBS[name]
    return None


class VoteStore:
    MESSAGE_KEY = "tnaas:message:{channel}:{ts}"  # our message: candidate count, names, corpus, model, team
    VOTES_PREFIX = "tnaas:votes:"
    VOTES_KEY = VOTES_PREFIX + "{channel}:{ts}"  # "index:user:direction" -> when
    UPS_KEY = "tnaas:ups:{channel}:{ts}"  # candidate index -> number of up-votes it has now
    IMPRESSIONS_KEY = "tnaas:impressions"  # every shown candidate, in order, as JSON
    CHANGES_KEY = "tnaas:vote-changes"  # votes cast or taken back, ever
    LOOKED_KEY = "tnaas:vote-changes-learnt"  # CHANGES_KEY when the learner last read the votes

    def __init__(self, connection: Redis):
        self.redis = connection
        self.arms = ArmCounts(connection)

    def record_impressions(self, impressions: list[Impression]) -> bool:
        """Mark the message as ours (candidates, their names) and append one row per candidate.

        Once per message: a job run twice (retried after its worker fell silent, though it had in
        fact finished) records nothing the second time. False when the message was already recorded.
        """
        if not impressions:
            return False
        first = impressions[0]
        message_key = self.MESSAGE_KEY.format(channel=first.channel, ts=first.ts)
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(message_key)
                if pipe.exists(message_key):
                    return False
                pipe.multi()
                for command in self.impression_commands(impressions):
                    pipe.execute_command(*command)
                pipe.execute()
            except WatchError:
                return False  # recorded meanwhile by the job's twin
        return True

    def impression_commands(self, impressions: list[Impression]) -> list[tuple]:
        """The commands that record the message's mark and rows, and the bandit's shown counts, unchecked:
        for a caller that knows it is the only one recording this message (it won the message's answer,
        see jobs.tasks.answer_web_batch); everyone else uses ``record_impressions``."""
        first = impressions[0]
        generated = first.pattern is None and first.like is None  # the bandit compares models on generation only
        mark = {
            "candidates": len(impressions),
            "names": json.dumps([i.name for i in impressions]),
            "corpus": first.corpus,
            "model": first.model,
            "generated": int(generated),
            "team": first.team or "",
        }
        commands = [
            (
                "HSET",
                self.MESSAGE_KEY.format(channel=first.channel, ts=first.ts),
                *(x for kv in mark.items() for x in kv),
            ),
            ("RPUSH", self.IMPRESSIONS_KEY, *(i.model_dump_json() for i in impressions)),
        ]
        if generated:
            commands += self.arms.shown_commands(first.corpus, first.model, len(impressions))
        return commands

    def name_of(self, channel: str, ts: str, index: int) -> str | None:
        """The name candidate ``index`` (from 1) of our message, None if there is no such candidate."""
        raw = self.redis.hget(self.MESSAGE_KEY.format(channel=channel, ts=ts), "names")
        names = json.loads(raw) if raw else []
        return names[index - 1] if 1 <= index <= len(names) else None

    def candidates_on(self, channel: str, ts: str) -> int:
        """How many candidates our message shows; 0 for messages that are not ours."""
        value = self.redis.hget(self.MESSAGE_KEY.format(channel=channel, ts=ts), "candidates")
        return int(value) if value else 0

    def apply_reaction(self, channel: str, ts: str, user: str, reaction: str, added: bool) -> Vote | None:
        """A reaction_added / reaction_removed by a person; None when it is not a vote on our message."""
        meaning = vote_for_reaction(reaction, self.candidates_on(channel, ts))
        if meaning is None:
            return None
        index, direction = meaning
        self.vote(channel, ts, index, user, direction, added)
        return Vote(channel=channel, ts=ts, index=index, user=user, direction=direction)

    def vote(self, channel: str, ts: str, index: int, user: str, direction: int, added: bool = True) -> bool:
        """Add (or take back) one person's vote on one candidate; False when nothing changed."""
        key = self.VOTES_KEY.format(channel=channel, ts=ts)
        field = f"{index}:{user}:{direction}"
        changed = self.redis.hset(key, field, int(time.time())) if added else self.redis.hdel(key, field)
        if changed:
            self.redis.incr(self.CHANGES_KEY)
        if changed and direction == 1:
            ups = self.redis.hincrby(self.UPS_KEY.format(channel=channel, ts=ts), str(index), 1 if added else -1)
            if ups == (1 if added else 0):  # this candidate just became (or stopped being) up-voted
                self._count_up(channel, ts, 1 if added else -1)
        return bool(changed)

    def toggle(self, channel: str, ts: str, index: int, user: str, direction: int = 1) -> bool:
        """A vote button: the first click votes, the next takes it back. True when the vote now stands."""
        field = f"{index}:{user}:{direction}"
        standing = self.redis.hexists(self.VOTES_KEY.format(channel=channel, ts=ts), field)
        self.vote(channel, ts, index, user, direction, added=not standing)
        return not standing

    def forget_user(self, user: str) -> tuple[int, int]:
        """Delete everything one person gave us: their votes (the counts they moved move back) and the
        impressions of the requests they made. Returns (votes, requests) deleted."""
        votes = 0
        for key in self.redis.scan_iter(match=self.VOTES_KEY.format(channel="*", ts="*"), count=1000):
            channel, ts = key.decode().removeprefix(self.VOTES_PREFIX).rsplit(":", 1)
            for field in self.redis.hkeys(key):
                index, voter, direction = field.decode().split(":")
                if voter == user and self.vote(channel, ts, int(index), user, int(direction), added=False):
                    votes += 1
        requests = 0
        for raw in self.redis.lrange(self.IMPRESSIONS_KEY, 0, -1):
            if json.loads(raw).get("requested_by") == user:
                requests += self.redis.lrem(self.IMPRESSIONS_KEY, 0, raw)
        return votes, requests

    def _count_up(self, channel: str, ts: str, step: int) -> None:
        message = {
            k.decode(): v.decode()
            for k, v in self.redis.hgetall(self.MESSAGE_KEY.format(channel=channel, ts=ts)).items()
        }
        if message.get("generated") == "1":
            self.arms.add_up(message["corpus"], message["model"], step)

    def top(self, limit: int = 10, team: str | None = None) -> list[TopName]:
        """Names with the highest net votes (up minus down) across every message, or one team's."""
        net: dict[tuple[str, str], int] = {}
        for row in self.export():
            if team is not None and row.get("team") != team:
                continue
            key = (row["name"], row["corpus"])
            net[key] = net.get(key, 0) + row["up"] - row["down"]
        ranked = sorted(
            (TopName(n, c, v) for (n, c), v in net.items() if v > 0), key=lambda t: (-t.votes, t.name, t.corpus)
        )
        return ranked[:limit]

    def tally(self, channel: str, ts: str) -> dict[int, dict[str, int]]:
        """{candidate index: {"up": n, "down": m}} for one message."""
        out: dict[int, dict[str, int]] = {}
        for field in self.redis.hkeys(self.VOTES_KEY.format(channel=channel, ts=ts)):
            index, _, direction = field.decode().split(":")
            counts = out.setdefault(int(index), {"up": 0, "down": 0})
            counts["up" if direction == "1" else "down"] += 1
        return out

    def export(self) -> Iterator[dict]:
        """Every impression in the order shown, with its current up and down votes (JSON-ready)."""
        tallies: dict[tuple[str, str], dict] = {}
        for raw in self.redis.lrange(self.IMPRESSIONS_KEY, 0, -1):
            row = json.loads(raw)
            key = (row["channel"], row["ts"])
            if key not in tallies:
                tallies[key] = self.tally(*key)
            counts = tallies[key].get(row["index"], {"up": 0, "down": 0})
            yield row | counts

    def unseen_changes(self) -> int | None:
        """How many votes were ever cast or taken back, when that moved since ``learnt(...)``; else None.
        One round trip: the learner reads every impression only when there is something new in them."""
        changes, learnt = self.redis.mget(self.CHANGES_KEY, self.LOOKED_KEY)
        changes = int(changes or 0)
        return None if learnt is not None and int(learnt) == changes else changes

    def learnt(self, changes: int) -> None:
        """The learner has read the votes as they were at ``changes`` (``unseen_changes``' answer)."""
        self.redis.set(self.LOOKED_KEY, changes)

    def impression_count(self) -> int:
        return self.redis.llen(self.IMPRESSIONS_KEY)

    def purge_before(self, cutoff: float, batch: int = 1000) -> int:
        """Forget impressions shown before ``cutoff`` (epoch seconds), with their messages' votes.

        Impressions are appended in the order shown, so the old ones are a prefix of the list: it
        is trimmed from the head (new rows are pushed at the tail meanwhile, untouched). The bandit's
        counters stay: they are totals and name nobody. Returns how many impressions were removed.
        """
        removed = 0
        while True:
            raws = self.redis.lrange(self.IMPRESSIONS_KEY, 0, batch - 1)
            rows = [json.loads(raw) for raw in raws]
            old = 0
            while old < len(rows) and rows[old]["shown_at"] < cutoff:
                old += 1
            if old == 0:
                return removed
            if not self._trim_head(old, raws[old - 1]):
                continue  # someone else trimmed meanwhile: read again
            messages = {(r["channel"], r["ts"]) for r in rows[:old]}
            with self.redis.pipeline() as pipe:
                for channel, ts in messages:
                    for key in (self.MESSAGE_KEY, self.VOTES_KEY, self.UPS_KEY):
                        pipe.delete(key.format(channel=channel, ts=ts))
                pipe.execute()
            removed += old
            if old < batch:
                return removed

    # Trim the first n rows only if the n-th is still the row we read: two purges never cut twice.
    _TRIM_HEAD = "if redis.call('LINDEX', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('LTRIM', KEYS[1], ARGV[1] + 1, -1) return 1 end return 0"

    def _trim_head(self, n: int, last: bytes) -> bool:
        return bool(self.redis.eval(self._TRIM_HEAD, 1, self.IMPRESSIONS_KEY, n - 1, last))
