"""Votes and impressions: the reranking dataset, kept in Redis.

Every candidate the bot shows is an impression, stored with the request that produced it (corpus,
model, model version, pattern, scores). A keycap reaction (:one: ... :keycap_ten:) on a candidate
message is an up-vote for that candidate; :+1: / :-1: on a single-candidate message count too.
Votes have set semantics per (message, candidate, user, direction): adding twice counts once and
removing undoes. Slack retries events, so each event id is acted on once. The web page votes through
the same store (channel ``web``, one "message" per answer).

Counters for the bandit are kept alongside: per (corpus, model) and per corpus, how many generated
candidates were shown and how many of them got at least one up-vote.
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
UPS_KEY = "tnaas:ups:{channel}:{ts}"  # candidate index -> number of up-votes it has now
IMPRESSIONS_KEY = "tnaas:impressions"
EVENT_KEY = "tnaas:event:{event_id}"
ARMS_KEY = "tnaas:arms"  # "model:<corpus>:<model>:shown" / ":up", "corpus:<corpus>:shown" / ":up"


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
    judge: dict[str, float] | None = None  # the judge's probability for every corpus
    nll: dict[str, float | None] | None = None  # nats per character under every model of the corpus
    known: bool = False
    explore: bool = False  # shown at random from the sample, not for its score (see models.ranking)
    requested_n: int | None = None
    requested_by: str | None = None
    surface: str = "slack"
    shown_at: float


class Vote(BaseModel):
    channel: str
    ts: str
    index: int
    user: str
    direction: int  # +1 or -1


def impressions(reply: dict, channel: str, ts: str, requested_n: int, user: str | None, surface: str) -> list[Impression]:
    """One impression per candidate of a NamesReply (as returned by the job), numbered from 1."""
    shown_at = time.time()
    return [
        Impression(channel=channel, ts=ts, index=i, name=c["name"], corpus=reply["corpus"], model=reply["model"],
                   model_version=reply["model_version"], pattern=reply["pattern"], log_prob=c["log_prob"],
                   believability=c["believability"], judge=c.get("judge"), nll=c.get("nll"), known=c["known"], explore=c.get("explore", False),
                   requested_n=requested_n, requested_by=user, surface=surface, shown_at=shown_at)
        for i, c in enumerate(reply["candidates"], 1)
    ]


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
        generated = first.pattern is None  # the bandit compares models on generation only
        with self.redis.pipeline() as pipe:
            pipe.hset(MESSAGE_KEY.format(channel=first.channel, ts=first.ts),
                      mapping={"candidates": len(impressions), "corpus": first.corpus, "model": first.model,
                               "generated": int(generated)})
            pipe.rpush(IMPRESSIONS_KEY, *(i.model_dump_json() for i in impressions))
            if generated:
                pipe.hincrby(ARMS_KEY, f"model:{first.corpus}:{first.model}:shown", len(impressions))
                pipe.hincrby(ARMS_KEY, f"corpus:{first.corpus}:shown", len(impressions))
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
        self.vote(channel, ts, index, user, direction, added)
        return Vote(channel=channel, ts=ts, index=index, user=user, direction=direction)

    def vote(self, channel: str, ts: str, index: int, user: str, direction: int, added: bool = True) -> bool:
        """Add (or take back) one person's vote on one candidate; False when nothing changed."""
        key = VOTES_KEY.format(channel=channel, ts=ts)
        field = f"{index}:{user}:{direction}"
        changed = self.redis.hset(key, field, int(time.time())) if added else self.redis.hdel(key, field)
        if changed and direction == 1:
            ups = self.redis.hincrby(UPS_KEY.format(channel=channel, ts=ts), str(index), 1 if added else -1)
            if ups == (1 if added else 0):  # this candidate just became (or stopped being) up-voted
                self._count_up(channel, ts, 1 if added else -1)
        return bool(changed)

    def _count_up(self, channel: str, ts: str, step: int) -> None:
        message = {k.decode(): v.decode() for k, v in self.redis.hgetall(MESSAGE_KEY.format(channel=channel, ts=ts)).items()}
        if message.get("generated") != "1":
            return
        with self.redis.pipeline() as pipe:
            pipe.hincrby(ARMS_KEY, f"model:{message['corpus']}:{message['model']}:up", step)
            pipe.hincrby(ARMS_KEY, f"corpus:{message['corpus']}:up", step)
            pipe.execute()

    def arm_counts(self, kind: str = "model", corpus: str | None = None) -> dict[str, tuple[int, int]]:
        """{arm: (up, shown)}: models of one corpus, models summed over corpora, or corpora (kind="corpus")."""
        counts: dict[str, list[int]] = {}
        for field, value in self.redis.hgetall(ARMS_KEY).items():
            parts = field.decode().split(":")
            if parts[0] != kind:
                continue
            if kind == "model":
                _, arm_corpus, arm, what = parts
                if corpus is not None and arm_corpus != corpus:
                    continue
            else:
                _, arm, what = parts
            counts.setdefault(arm, [0, 0])[0 if what == "up" else 1] += int(value)
        return {arm: (up, shown) for arm, (up, shown) in counts.items()}

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
