"""Votes and impressions: the reranking dataset, kept in Redis.

Every candidate the bot shows is an impression, stored with the request that produced it (corpus,
model, model version, pattern, scores). A keycap reaction (:one: ... :keycap_ten:) on a candidate
message is an up-vote for that candidate; :+1: / :-1: on a single-candidate message count too.
Votes have set semantics per (message, candidate, voter, direction): adding twice counts once and
removing undoes. The web page votes through the same store (channel ``web``, one "message" per
answer); Slack's vote buttons too. The bandit's counters (``store.arms``) move with the impressions
and up-votes recorded here.

People, not voter ids, are counted: each vote counts under an *identity* -- the voter itself, or, for
page voter ids minted in bulk (``store.voters``), the address they were minted for. A name's tally,
``/top``, the bandit and the export the reranker learns from count identities; the raw votes stay
per voter, so each person's vote is idempotent and can be taken back or forgotten.

Kept per request (a "message"), in one list: its mark (the names and the request's fields, once) and a
row per candidate (its scores), expiring ``UNVOTED_KEEP`` after it was shown unless a vote comes first
and makes it part of the dataset, kept then for the retention period (the upkeep's purge). Nothing else
reads rows nobody voted on: the reranker trains on voted requests only, the bandit reads its counters,
and the drift check compares recent requests with those of the reranker's last training.
``/top`` reads sorted sets kept as votes arrive (one for everyone, one per Slack team), in the same
script as the vote: top-k, whatever the number of stored impressions.

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

from core.limits import TOP_NAMES, UNVOTED_KEEP
from store.arms import ArmCounts
from store.connection import acknowledged
from store.team_corpora import PRIVATE_MARK

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


FIELDS = list(Impression.model_fields)
# Kept once per message (in its mark's "request"; corpus, model, team and the names have fields of their own),
# not once per candidate: every candidate of a message shares them.
REQUEST_FIELDS = {"model_version", "pattern", "like", "requested_n", "requested_by", "surface", "shown_at"}
# Each candidate's own, as a JSON array in this order; the judge's corpora and the models of ``nll`` are
# the same for every candidate of a request, so a row holds their values and the mark their names once.
ROW_FIELDS = ["log_prob", "believability", "real", "judge", "nll", "known", "explore"]


def _row(impression: Impression, judge_keys: list[str] | None, nll_keys: list[str] | None) -> str:
    """A candidate's row: its own fields, positionally; a judge or nll with other keys than the request's
    first candidate's is kept whole."""
    values = []
    for field in ROW_FIELDS:
        value = getattr(impression, field)
        keys = {"judge": judge_keys, "nll": nll_keys}.get(field)
        if isinstance(value, dict) and keys is not None and list(value) == keys:
            value = list(value.values())
        values.append(int(value) if isinstance(value, bool) else value)
    return _json(values)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _unrow(raw: bytes, judge_keys: list[str] | None, nll_keys: list[str] | None) -> dict:
    out = dict(zip(ROW_FIELDS, json.loads(raw)))
    for field, keys in (("judge", judge_keys), ("nll", nll_keys)):
        if isinstance(out[field], list):
            out[field] = dict(zip(keys, out[field]))
    out["known"], out["explore"] = bool(out["known"]), bool(out["explore"])
    return out


class TopName(NamedTuple):
    """A best-voted name with the corpus it was made for: the same letters in two corpora are two names."""

    name: str
    corpus: str
    votes: int  # net: people up minus people down


class VoterBatch(NamedTuple):
    """What a vote needs to know of the batch its page voter id was minted in (``store.voters``)."""

    id: str  # "<address tag>:<window>"
    bulk_identity: str  # whom its votes count as if it was minted in bulk: the address
    bulk_key: str  # where bulk batches are listed
    votes_key: str  # where its votes are noted while it is open; "" once closed
    open_for: int  # seconds its noted votes are kept: until it closes, and a window more


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


# An identity's votes on one candidate counted in (step > 0) or out (< 0): its votes there (several voter
# ids may count as one identity); when it starts or stops counting, the candidate's people up / down, the
# best-voted sorted sets (score: minus the net, so ascending order is best first and ties go by name, then
# corpus) and, for a vote (``arms``; not a purge or recount), the bandit's up-voted counters, which count
# candidates with at least one person up, and the changes the learner looks for. ``P``: the key prefixes
# (ARGV[1]).
SHIFT = r"""
local P = cjson.decode(ARGV[1])
local function shift(channel, ts, index, identity, direction, step, arms)
  local id = channel .. ':' .. ts
  local counted = P.counted .. id
  local own = index .. ':' .. identity .. ':' .. direction
  local n = redis.call('HINCRBY', counted, own, step)
  if n <= 0 then redis.call('HDEL', counted, own) end
  if (n > 0) == (n - step > 0) then return end
  step = (n > 0) and 1 or -1
  local side = (direction == '1') and 'up' or 'down'
  local tally = P.tally .. id
  local people = redis.call('HINCRBY', tally, index .. ':' .. side, step)
  if people <= 0 then redis.call('HDEL', tally, index .. ':' .. side) end
  if arms then redis.call('INCR', P.changes) end
  local raw = redis.call('LINDEX', P.message .. id, 0)
  if not raw then return end
  local mark = cjson.decode(raw)
  local name = mark.names[tonumber(index)]
  if not name then return end
  local member = name .. '\0' .. mark.corpus
  local net = (side == 'up') and step or -step
  local tops = {P.top .. 'all'}
  if string.find(mark.corpus, P.private, 1, true) then
    tops = {P.top .. 'corpus:' .. mark.corpus}  -- a team's private corpus: its own top, never everyone's
  elseif mark.team ~= '' then
    tops[2] = P.top .. 'team:' .. mark.team
  end
  for _, top in ipairs(tops) do
    if tonumber(redis.call('ZINCRBY', top, -net, member)) == 0 then redis.call('ZREM', top, member) end
  end
  if arms and side == 'up' and mark.generated == 1 and ((step > 0 and people == 1) or (step < 0 and people == 0)) then
    redis.call('HINCRBY', P.arms, 'model:' .. mark.corpus .. ':' .. mark.model .. ':up', step)
    redis.call('HINCRBY', P.arms, 'corpus:' .. mark.corpus .. ':up', step)
  end
end
local function identity_of(stored, voter)
  return string.match(stored or '', '^%S+ (.+)$') or voter
end
"""

# ARGV: prefixes, channel, ts, index, voter, direction, added (1/0), now, identity, then for a page voter id
# its batch (id, the bulk identity, the bulk set, the batch's vote list while it is open, its life).
# A message's first vote counts its generated names as judged for the bandit (store.arms).
VOTE = (
    SHIFT
    + r"""
local channel, ts, index, voter, direction = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local id = channel .. ':' .. ts
local votes = P.votes .. id
local field = index .. ':' .. voter .. ':' .. direction
local stored = redis.call('HGET', votes, field)
if ARGV[7] == '1' then
  if stored then return 0 end
  local identity = ARGV[9]
  if ARGV[10] and ARGV[10] ~= '' then
    if redis.call('ZSCORE', ARGV[12], ARGV[10]) then
      identity = ARGV[11]
    elseif ARGV[13] ~= '' then
      redis.call('SADD', ARGV[13], channel .. ' ' .. ts .. ' ' .. field)
      redis.call('EXPIRE', ARGV[13], ARGV[14])
    end
  end
  redis.call('HSET', votes, field, ARGV[8] .. ' ' .. identity)
  shift(channel, ts, index, identity, direction, 1, true)
  local raw = redis.call('LINDEX', P.message .. id, 0)
  if raw then
    redis.call('PERSIST', P.message .. id)
    local mark = cjson.decode(raw)
    if redis.call('ZREM', P.unvoted, channel .. ' ' .. ts .. ' ' .. #mark.names) == 1 and mark.generated == 1 then
      redis.call('HINCRBY', P.arms, 'model:' .. mark.corpus .. ':' .. mark.model .. ':judged', #mark.names)
      redis.call('HINCRBY', P.arms, 'corpus:' .. mark.corpus .. ':judged', #mark.names)
    end
  else
    for _, key in ipairs({votes, P.counted .. id, P.tally .. id}) do redis.call('EXPIRE', key, P.orphan) end
  end
else
  if not stored then return 0 end
  redis.call('HDEL', votes, field)
  shift(channel, ts, index, identity_of(stored, voter), direction, -1, true)
end
return 1
"""
)

# ARGV: prefixes, a message's entry in the index ("channel ts candidates"), then 0 to drop the message with
# its votes, or 1 to count its votes again (``upgrade``). Either way its people leave the best-voted sets.
DROP = (
    SHIFT
    + r"""
local channel, ts, n = string.match(ARGV[2], '^(%S+) (%S+) (%d+)$')
local id = channel .. ':' .. ts
local counted = redis.call('HGETALL', P.counted .. id)
for i = 1, #counted, 2 do
  local index, identity, direction = string.match(counted[i], '^(%d+):(.*):(%-?%d+)$')
  shift(channel, ts, index, identity, direction, -tonumber(counted[i + 1]), false)
end
redis.call('DEL', P.counted .. id, P.tally .. id)
if ARGV[3] == '1' then
  local votes = redis.call('HGETALL', P.votes .. id)
  for i = 1, #votes, 2 do
    local index, voter, direction = string.match(votes[i], '^(%d+):(.*):(%-?%d+)$')
    shift(channel, ts, index, identity_of(votes[i + 1], voter), direction, 1, false)
  end
  return 0
end
redis.call('DEL', P.message .. id, P.votes .. id)
redis.call('ZREM', P.unvoted, ARGV[2])
if redis.call('ZREM', P.shown, ARGV[2]) == 1 then
  redis.call('DECRBY', P.kept, n)
  return tonumber(n)
end
return 0
"""
)


class VoteStore:
    MESSAGE_KEY = "tnaas:impression:{channel}:{ts}"  # a list: our message's mark (JSON), then its rows
    VOTES_PREFIX = "tnaas:votes:"
    VOTES_KEY = VOTES_PREFIX + "{channel}:{ts}"  # "index:voter:direction" -> "when identity"
    COUNTED_KEY = "tnaas:counted:{channel}:{ts}"  # "index:identity:direction" -> the identity's votes there
    TALLY_KEY = "tnaas:tally:{channel}:{ts}"  # "index:up" / "index:down" -> people
    SHOWN_KEY = "tnaas:shown"  # sorted set: "channel ts candidates" of every message kept, by when shown
    UNVOTED_KEY = "tnaas:unvoted"  # sorted set: the same, of messages nobody voted on, by when they expire
    KEPT_KEY = "tnaas:impressions-kept"  # impressions in SHOWN_KEY's messages
    TOP_KEY = "tnaas:top:{scope}"  # "all", "team:<id>" or "corpus:<private id>": "name\0corpus" -> minus the net people
    CHANGES_KEY = "tnaas:vote-changes"  # people's votes counted in or out, ever (a stuffed vote moves nothing)
    LOOKED_KEY = "tnaas:vote-changes-learnt"  # CHANGES_KEY when the learner last read the votes
    IMPRESSIONS_KEY = "tnaas:impressions"  # the layout before: every impression in one list (see ``upgrade``),
    LEGACY_MESSAGE_KEY = "tnaas:message:{channel}:{ts}"  # ... a hash per message
    LEGACY_UPS_KEY = "tnaas:ups:{channel}:{ts}"  # ... and up-votes per candidate
    UPGRADE_LOCK = "tnaas:impressions-upgrading"

    def __init__(self, connection: Redis):
        self.redis = connection
        self.arms = ArmCounts(connection)
        self._vote = connection.register_script(VOTE)
        self._drop = connection.register_script(DROP)
        self._prefixes = self.prefixes()

    @classmethod
    def prefixes(cls) -> str:
        """The key prefixes the scripts use (their first argument)."""

        def prefix(template: str) -> str:
            return template.split("{", 1)[0]

        return json.dumps(
            {
                "message": prefix(cls.MESSAGE_KEY),
                "votes": cls.VOTES_PREFIX,
                "counted": prefix(cls.COUNTED_KEY),
                "tally": prefix(cls.TALLY_KEY),
                "top": prefix(cls.TOP_KEY),
                "shown": cls.SHOWN_KEY,
                "unvoted": cls.UNVOTED_KEY,
                "kept": cls.KEPT_KEY,
                "arms": ArmCounts.KEY,
                "changes": cls.CHANGES_KEY,
                "private": PRIVATE_MARK,
                "orphan": UNVOTED_KEEP,
            }
        )

    @staticmethod
    def entry(channel: str, ts: str, candidates: int) -> str:
        """A message's member in SHOWN_KEY / UNVOTED_KEY (Slack's ids and answer ids hold no spaces)."""
        return f"{channel} {ts} {candidates}"

    def record_impressions(self, impressions: list[Impression]) -> bool:
        """Mark the message as ours (candidates, their names) and keep one row per candidate.

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

    def impression_commands(self, impressions: list[Impression], now: float | None = None) -> list[tuple]:
        """The commands that record the message's mark and rows, and the bandit's shown counts, unchecked:
        for a caller that knows it is the only one recording this message (it won the message's answer,
        see jobs.tasks.answer_web_batch); everyone else uses ``record_impressions``.

        The request's fields are kept once, in the mark; each row holds only its candidate's own. Both
        expire ``UNVOTED_KEEP`` after ``now`` unless a vote comes first."""
        first = impressions[0]
        generated = first.pattern is None and first.like is None  # the bandit compares models on generation only
        judge_keys, nll_keys = list(first.judge or {}) or None, list(first.nll or {}) or None
        mark = {
            "names": [i.name for i in impressions],
            "corpus": first.corpus,
            "model": first.model,
            "generated": int(generated),
            "team": first.team or "",
            "request": first.model_dump(include=REQUEST_FIELDS) | {"judge_keys": judge_keys, "nll_keys": nll_keys},
        }
        message = self.MESSAGE_KEY.format(channel=first.channel, ts=first.ts)
        entry = self.entry(first.channel, first.ts, len(impressions))
        expires = int(time.time() if now is None else now) + UNVOTED_KEEP
        commands = [
            ("RPUSH", message, _json(mark), *(_row(i, judge_keys, nll_keys) for i in impressions)),
            ("EXPIREAT", message, expires),
            ("ZADD", self.SHOWN_KEY, repr(first.shown_at), entry),
            ("ZADD", self.UNVOTED_KEY, expires, entry),
            ("INCRBY", self.KEPT_KEY, len(impressions)),
        ]
        if generated:
            commands += self.arms.shown_commands(first.corpus, first.model, len(impressions))
        return commands

    def name_of(self, channel: str, ts: str, index: int) -> str | None:
        """The name candidate ``index`` (from 1) of our message, None if there is no such candidate."""
        names = self._names(channel, ts)
        return names[index - 1] if 1 <= index <= len(names) else None

    def candidate(self, channel: str, ts: str, index: int) -> tuple[str, str] | None:
        """(name, corpus) of candidate ``index`` (from 1) of our message, None if there is no such candidate."""
        raw = self.redis.lindex(self.MESSAGE_KEY.format(channel=channel, ts=ts), 0)
        mark = json.loads(raw) if raw else {"names": []}
        return (mark["names"][index - 1], mark["corpus"]) if 1 <= index <= len(mark["names"]) else None

    def candidates_on(self, channel: str, ts: str) -> int:
        """How many candidates our message shows; 0 for messages that are not ours (or no longer kept)."""
        return len(self._names(channel, ts))

    def _names(self, channel: str, ts: str) -> list[str]:
        raw = self.redis.lindex(self.MESSAGE_KEY.format(channel=channel, ts=ts), 0)
        return json.loads(raw)["names"] if raw else []

    def apply_reaction(self, channel: str, ts: str, user: str, reaction: str, added: bool) -> Vote | None:
        """A reaction_added / reaction_removed by a person; None when it is not a vote on our message."""
        meaning = vote_for_reaction(reaction, self.candidates_on(channel, ts))
        if meaning is None:
            return None
        index, direction = meaning
        self.vote(channel, ts, index, user, direction, added)
        return Vote(channel=channel, ts=ts, index=index, user=user, direction=direction)

    def vote(
        self,
        channel: str,
        ts: str,
        index: int,
        user: str,
        direction: int,
        added: bool = True,
        batch: VoterBatch | None = None,
    ) -> bool:
        """Add (or take back) one voter's vote on one candidate; False when nothing changed.

        It counts under the voter, or, for a page voter id of a ``batch`` minted in bulk, under the
        address it was minted for (see ``store.voters``). One script: the vote, its identity's count,
        the candidate's tally, the best-voted sets and the bandit move together."""
        args = [self._prefixes, channel, ts, index, user, direction, int(added), int(time.time()), user]
        if batch is not None:
            args += [batch.id, batch.bulk_identity, batch.bulk_key, batch.votes_key, batch.open_for]
        # Acknowledged (under Sentinel) only once a replica has it: a failover loses no counted vote.
        return bool(acknowledged(self.redis, lambda pipe: self._vote(keys=[], args=args, client=pipe))[0])

    def toggle(self, channel: str, ts: str, index: int, user: str, direction: int = 1) -> bool:
        """A vote button: the first click votes, the next takes it back. True when the vote now stands."""
        field = f"{index}:{user}:{direction}"
        standing = self.redis.hexists(self.VOTES_KEY.format(channel=channel, ts=ts), field)
        self.vote(channel, ts, index, user, direction, added=not standing)
        return not standing

    def forget_user(self, user: str) -> tuple[int, int]:
        """Delete everything one person gave us: their votes (the counts they moved move back) and the
        requests they made (with every vote on them). Returns (votes, impressions) deleted."""
        votes = 0
        for key in self.redis.scan_iter(match=self.VOTES_KEY.format(channel="*", ts="*"), count=1000):
            channel, ts = key.decode().removeprefix(self.VOTES_PREFIX).rsplit(":", 1)
            for field in self.redis.hkeys(key):
                index, voter, direction = _vote_field(field.decode())
                if voter == user and self.vote(channel, ts, index, user, direction, added=False):
                    votes += 1
        return votes, self._drop_requests(lambda mark: mark["request"]["requested_by"] == user)

    def forget_corpus(self, corpus: str) -> int:
        """Delete every request made from a team's private corpus (``store.team_corpora.corpus_id``) with
        its votes, its `top` and the bandit's counts: what deleting the corpus promises. Returns the
        impressions deleted."""
        removed = self._drop_requests(lambda mark: mark["corpus"] == corpus)
        self.redis.delete(self.TOP_KEY.format(scope=f"corpus:{corpus}"))
        self.arms.forget_corpus(corpus)
        return removed

    def _drop_requests(self, chosen) -> int:
        """Delete every shown request whose first mark (its request and corpus) is ``chosen``, with its
        votes; how many were deleted."""
        removed = 0
        for entries in _chunks(self.redis.zrange(self.SHOWN_KEY, 0, -1), 500):
            with self.redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    channel, ts, _ = entry.decode().split(" ")
                    pipe.lindex(self.MESSAGE_KEY.format(channel=channel, ts=ts), 0)
                marks = pipe.execute()
            for entry, mark in zip(entries, marks):
                if mark is not None and chosen(json.loads(mark)):
                    removed += int(self._drop(keys=[], args=[self._prefixes, entry, 0]))
        return removed

    def top(self, limit: int = TOP_NAMES, team: str | None = None, corpus: str | None = None) -> list[TopName]:
        """Names with the most people up (net of people down) across every message, or one team's, or one
        private corpus' (``corpus``: its id; they are in no other): the first ``limit`` of a sorted set kept
        as votes arrive."""
        scope = f"corpus:{corpus}" if corpus is not None else "all" if team is None else f"team:{team}"
        key = self.TOP_KEY.format(scope=scope)
        best = self.redis.zrangebyscore(key, "-inf", "(0", start=0, num=limit, withscores=True)
        return [TopName(*member.decode().split("\0", 1), int(-score)) for member, score in best]

    def tally(self, channel: str, ts: str) -> dict[int, dict[str, int]]:
        """{candidate index: {"up": people, "down": people}} for one message."""
        out: dict[int, dict[str, int]] = {}
        for field, people in self.redis.hgetall(self.TALLY_KEY.format(channel=channel, ts=ts)).items():
            index, side = field.decode().split(":")
            out.setdefault(int(index), {"up": 0, "down": 0})[side] = int(people)
        return out

    def export(self) -> Iterator[dict]:
        """Every impression kept, in the order shown, with the people up and down on it (JSON-ready)."""
        for entries in _chunks(self.redis.zrange(self.SHOWN_KEY, 0, -1), 500):
            with self.redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    channel, ts, _ = entry.decode().split(" ")
                    pipe.lrange(self.MESSAGE_KEY.format(channel=channel, ts=ts), 0, -1)
                    pipe.hgetall(self.TALLY_KEY.format(channel=channel, ts=ts))
                replies = pipe.execute()
            for i, entry in enumerate(entries):
                kept, tally = replies[2 * i : 2 * i + 2]
                if not kept:
                    continue  # expired unvoted (its index entry goes at the next purge)
                channel, ts, _ = entry.decode().split(" ")
                mark = json.loads(kept[0])
                if PRIVATE_MARK in mark["corpus"]:
                    continue  # a team's private corpus: its names never reach the shared reranker
                request = mark["request"]
                judge_keys, nll_keys = request.pop("judge_keys"), request.pop("nll_keys")
                shared = request | {"channel": channel, "ts": ts, "corpus": mark["corpus"], "model": mark["model"]}
                shared["team"] = mark["team"] or None
                people = {k.decode(): int(v) for k, v in tally.items()}
                for index, raw in enumerate(kept[1:], 1):
                    row = (
                        shared | _unrow(raw, judge_keys, nll_keys) | {"index": index, "name": mark["names"][index - 1]}
                    )
                    counts = {"up": people.get(f"{index}:up", 0), "down": people.get(f"{index}:down", 0)}
                    yield {f: row[f] for f in FIELDS} | counts

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
        return int(self.redis.get(self.KEPT_KEY) or 0)

    def purge_before(self, cutoff: float, batch: int = 1000) -> int:
        """Forget messages shown before ``cutoff`` (epoch seconds) with their votes, and the index entries
        of messages nobody voted on that have expired. The bandit's counters stay: they are totals and
        name nobody. Returns how many impressions were removed (expired ones included)."""
        removed = 0
        for key, upto in ((self.SHOWN_KEY, f"({cutoff!r}"), (self.UNVOTED_KEY, repr(time.time()))):
            while entries := self.redis.zrangebyscore(key, "-inf", upto, start=0, num=batch):
                for entry in entries:
                    removed += int(self._drop(keys=[], args=[self._prefixes, entry, 0]))
        return removed

    def upgrade(self) -> int:
        """Move the layout before (one list of every impression; up-votes per candidate) into today's, and
        count every vote kept: once, by whichever upkeep finds the old list. Returns the messages moved."""
        if not self.redis.exists(self.IMPRESSIONS_KEY) or not self.redis.set(self.UPGRADE_LOCK, 1, nx=True, ex=600):
            return 0
        try:
            messages: dict[tuple[str, str], list[Impression]] = {}
            for raw in self.redis.lrange(self.IMPRESSIONS_KEY, 0, -1):
                row = Impression.model_validate_json(raw)
                messages.setdefault((row.channel, row.ts), []).append(row)
            for (channel, ts), rows in messages.items():
                if not self.redis.exists(self.LEGACY_MESSAGE_KEY.format(channel=channel, ts=ts)):
                    continue  # moved by an upgrade that stopped before its end (or purged meanwhile)
                shown = self.impression_commands(rows, now=rows[0].shown_at)
                commands = [c for c in shown if c[1] != ArmCounts.KEY]  # the bandit counted them when shown
                voted = self.redis.exists(self.VOTES_KEY.format(channel=channel, ts=ts))
                with self.redis.pipeline() as pipe:
                    pipe.delete(self.LEGACY_MESSAGE_KEY.format(channel=channel, ts=ts))
                    for command in commands:
                        if not (voted and command[0] == "EXPIREAT"):
                            pipe.execute_command(*command)
                    if voted:
                        pipe.zrem(self.UNVOTED_KEY, self.entry(channel, ts, len(rows)))
                        if rows[0].pattern is None and rows[0].like is None:
                            for command in self.arms.judged_commands(rows[0].corpus, rows[0].model, len(rows)):
                                pipe.execute_command(*command)
                    pipe.delete(self.LEGACY_UPS_KEY.format(channel=channel, ts=ts))
                    pipe.execute()
                self._drop(keys=[], args=[self._prefixes, self.entry(channel, ts, len(rows)), 1])
            self.redis.delete(self.IMPRESSIONS_KEY)
            return len(messages)
        finally:
            self.redis.delete(self.UPGRADE_LOCK)


def _vote_field(field: str) -> tuple[int, str, int]:
    """(index, voter, direction) of a VOTES_KEY field (an old voter id may hold colons: an IPv6 address)."""
    index, rest = field.split(":", 1)
    voter, direction = rest.rsplit(":", 1)
    return int(index), voter, int(direction)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
