"""Votes and impressions: the reranking dataset, kept in Redis.

Every candidate the bot shows is an impression, stored with the request that produced it (corpus,
model, model version, pattern, scores). A keycap reaction (:one: ... :keycap_ten:) on a candidate
message is an up-vote for that candidate; :+1: / :-1: on a single-candidate message count too.
Votes have set semantics per (message, candidate, user, direction): adding twice counts once and
removing undoes. Slack retries events, so each event id is acted on once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from pydantic import BaseModel
from redis import Redis

KEYCAPS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "keycap_ten"]
THUMBS = {"+1": 1, "thumbsup": 1, "-1": -1, "thumbsdown": -1}
EVENT_TTL = 24 * 3600  # Slack retries within minutes; a day is plenty

MESSAGE_KEY = "tnaas:message:{channel}:{ts}"
VOTES_KEY = "tnaas:votes:{channel}:{ts}"
IMPRESSIONS_KEY = "tnaas:impressions"
EVENT_KEY = "tnaas:event:{event_id}"


class Impression(BaseModel):
    channel: str
    ts: str  # the candidate message
    index: int  # 1-based position shown
    name: str
    corpus: str
    model: str
    model_version: str
    pattern: str | None = None
    log_prob: float | None = None
    believability: float | None = None
    known: bool = False
    requested_by: str | None = None
    shown_at: float


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
    def __init__(self, connection: Redis):
        self.redis = connection

    def first_time(self, event_id: str) -> bool:
        """True the first time an event id is seen: Slack's retries of it are then ignored."""
        return bool(self.redis.set(EVENT_KEY.format(event_id=event_id), 1, nx=True, ex=EVENT_TTL))

    def record_impressions(self, impressions: list[Impression]) -> None:
        """Mark the message as ours (with its candidate count) and append one row per candidate."""
        if not impressions:
            return
        first = impressions[0]
        with self.redis.pipeline() as pipe:
            pipe.hset(MESSAGE_KEY.format(channel=first.channel, ts=first.ts), mapping={"candidates": len(impressions)})
            pipe.rpush(IMPRESSIONS_KEY, *(i.model_dump_json() for i in impressions))
            pipe.execute()

    def candidates_on(self, channel: str, ts: str) -> int:
        """How many candidates our message shows; 0 for messages that are not ours."""
        value = self.redis.hget(MESSAGE_KEY.format(channel=channel, ts=ts), "candidates")
        return int(value) if value else 0

    def apply_reaction(self, channel: str, ts: str, user: str, reaction: str, added: bool) -> Vote | None:
        """A reaction_added / reaction_removed by a person; None when it is not a vote on our message."""
        meaning = vote_for_reaction(reaction, self.candidates_on(channel, ts))
        if meaning is None:
            return None
        index, direction = meaning
        field = f"{index}:{user}:{direction}"
        key = VOTES_KEY.format(channel=channel, ts=ts)
        if added:
            self.redis.hset(key, field, int(time.time()))
        else:
            self.redis.hdel(key, field)
        return Vote(channel=channel, ts=ts, index=index, user=user, direction=direction)

    def top(self, limit: int = 10) -> list[tuple[str, int]]:
        """Names with the highest net votes across every message (up minus down)."""
        net: dict[str, int] = {}
        for row in self.export():
            net[row["name"]] = net.get(row["name"], 0) + row["up"] - row["down"]
        ranked = sorted(((n, v) for n, v in net.items() if v > 0), key=lambda nv: (-nv[1], nv[0]))
        return ranked[:limit]

    def tally(self, channel: str, ts: str) -> dict[int, dict[str, int]]:
        """{candidate index: {"up": n, "down": m}} for one message."""
        out: dict[int, dict[str, int]] = {}
        for field in self.redis.hkeys(VOTES_KEY.format(channel=channel, ts=ts)):
            index, _, direction = field.decode().split(":")
            counts = out.setdefault(int(index), {"up": 0, "down": 0})
            counts["up" if direction == "1" else "down"] += 1
        return out

    def export(self) -> Iterator[dict]:
        """Every impression in the order shown, with its current up and down votes (JSON-ready)."""
        tallies: dict[tuple[str, str], dict] = {}
        for raw in self.redis.lrange(IMPRESSIONS_KEY, 0, -1):
            row = json.loads(raw)
            key = (row["channel"], row["ts"])
            if key not in tallies:
                tallies[key] = self.tally(*key)
            counts = tallies[key].get(row["index"], {"up": 0, "down": 0})
            yield row | counts
