"""Corpora that teams and API clients add themselves: the list, its trained artifacts and its state.

The artifacts live in Redis so that every worker, on any machine, can serve any team's corpus (a
shared volume would be a second thing every deployment must provide and keep; Redis is already there).
Each corpus is bounded: at most ``TEAM_CORPUS_MAX_BYTES`` of names and ``TEAM_CORPUS_ARTIFACT_BYTES``
of artifacts, an owner keeps at most ``TEAM_CORPORA_PER_OWNER``, and all of them together at most
``TNAAS_TEAM_CORPORA_MB`` (``stored_bytes``: Redis' memory is shared with the queue and the votes). None of these keys has a TTL, so
Redis' ``volatile-lru`` never evicts a team's corpus under memory pressure.

Owners are kept as a hash of their identity (``owner_key``): a key names no address or token. The
operator's corpora (``tnaas corpus add``) are owned by ``OPERATOR`` and seen by everyone; anyone else's
are theirs alone. A new version replaces the old one in one transaction, and only if the corpus still
exists (a delete while it trained wins).
"""

from __future__ import annotations

import hashlib
import json
import time

from redis import Redis
from redis.exceptions import WatchError

OPERATOR = "operator"  # the owner of the corpora an operator adds on the command line: shared by all
NO_ROOM = "This stack has no room for more corpora right now: delete one you no longer use, or ask its operator."
PRIVATE_MARK = "@"  # in a private corpus' id (``corpus_id``): no built-in corpus name has one


def owner_key(identity: str) -> str:
    """The key an identity's corpora are kept under (``OPERATOR`` stays itself)."""
    return identity if identity == OPERATOR else hashlib.sha256(identity.encode()).hexdigest()[:16]


def team_owner(team: str) -> str:
    """The owner a Slack team's corpora are kept under (a hash: no key names the team)."""
    return owner_key(f"slack:{team}")


def corpus_id(owner: str, slug: str) -> str:
    """What impressions, votes, the bandit and `top` know a team corpus by: its owner's own
    (``slug@owner``), so two teams' ``rivers`` never share a vote; the operator's is the plain slug."""
    return slug if owner == OPERATOR else f"{slug}{PRIVATE_MARK}{owner}"


class TeamCorpora:
    INDEX_KEY = "tnaas:corpora:{owner}"  # hash: slug -> state (JSON: status, names, version, report, job)
    NAMES_KEY = "tnaas:corpus-names:{owner}:{slug}"  # the checked list, one name a line
    MODEL_KEY = "tnaas:corpus-model:{owner}:{slug}"  # hash: version, model (.npz bytes), reservoir (.npz bytes)
    TRAINING_KEY = "tnaas:corpus-training:{owner}:{slug}"  # the training job's id, while it runs
    SIZES_KEY = "tnaas:corpora-bytes"  # hash: "owner:slug" -> bytes its list and artifacts take in Redis

    def __init__(self, connection: Redis):
        self.redis = connection

    def _keys(self, owner: str, slug: str) -> tuple[str, str, str, str]:
        return (
            self.INDEX_KEY.format(owner=owner),
            self.NAMES_KEY.format(owner=owner, slug=slug),
            self.MODEL_KEY.format(owner=owner, slug=slug),
            self.TRAINING_KEY.format(owner=owner, slug=slug),
        )

    # -- what exists --------------------------------------------------------------------------------
    def states(self, owner: str) -> dict[str, dict]:
        """{slug: state} of one owner's corpora."""
        raw = self.redis.hgetall(self.INDEX_KEY.format(owner=owner))
        return {slug.decode(): json.loads(state) for slug, state in sorted(raw.items())}

    def slugs(self, owner: str) -> list[str]:
        return sorted(s.decode() for s in self.redis.hkeys(self.INDEX_KEY.format(owner=owner)))

    def visible(self, owner: str) -> dict[str, tuple[str, dict]]:
        """{slug: (owner, state)} of what ``owner`` may ask for: its own, then the operator's."""
        seen = {slug: (OPERATOR, state) for slug, state in self.states(OPERATOR).items()}
        seen.update({slug: (owner, state) for slug, state in self.states(owner).items()})
        return dict(sorted(seen.items()))

    def resolve(self, owner: str, slug: str) -> str | None:
        """The owner of the corpus ``slug`` as ``owner`` sees it (its own first, else the operator's), or None."""
        for candidate in dict.fromkeys((owner, OPERATOR)):
            if self.redis.hexists(self.INDEX_KEY.format(owner=candidate), slug):
                return candidate
        return None

    # -- an upload ----------------------------------------------------------------------------------
    def begin(
        self, owner: str, slug: str, names: list[str], job_id: str, lock_seconds: int, about: dict | None = None
    ) -> bool:
        """Keep the list and mark the corpus training under ``job_id``; False when it is training already
        (two uploads of one corpus at once: the second is refused, nothing of it kept). A corpus being
        replaced keeps serving its current version until the new one is published. ``about``: what the
        upload's check said (names dropped and why, how it was read), for the report."""
        index, names_key, _, training = self._keys(owner, slug)
        if not self.redis.set(training, job_id, nx=True, ex=lock_seconds):
            return False
        previous = self.redis.hget(index, slug)
        state = (
            (json.loads(previous) if previous else {"status": "training"})
            | {
                "job": job_id,
                "training": True,
                "uploaded": len(names),
                "updated": time.time(),
            }
            | (about or {})
        )
        listed = "\n".join(names).encode()
        with self.redis.pipeline() as pipe:
            pipe.set(names_key, listed)
            pipe.hset(index, slug, json.dumps(state))
            pipe.hset(self.SIZES_KEY, f"{owner}:{slug}", len(listed) + self._artifact_bytes(owner, slug))
            pipe.execute()
        return True

    def _artifact_bytes(self, owner: str, slug: str) -> int:
        key = self.MODEL_KEY.format(owner=owner, slug=slug)
        return sum(self.redis.hstrlen(key, field) for field in ("model", "reservoir"))

    def stored_bytes(self) -> int:
        """What every team corpus of the stack takes in Redis (lists and artifacts)."""
        return sum(int(v) for v in self.redis.hvals(self.SIZES_KEY))

    def room_for(self, owner: str, slug: str, artifact_bytes: int, limit: int) -> bool:
        """Whether a new version of ``artifact_bytes`` keeps every team corpus within ``limit`` bytes."""
        names = self.redis.strlen(self.NAMES_KEY.format(owner=owner, slug=slug))
        others = self.stored_bytes() - int(self.redis.hget(self.SIZES_KEY, f"{owner}:{slug}") or 0)
        return others + names + artifact_bytes <= limit

    def abort(self, owner: str, slug: str, job_id: str) -> None:
        """An upload whose job could not be queued: a corpus never trained is forgotten, one that was keeps
        serving as it was."""
        index, names_key, model_key, training = self._keys(owner, slug)
        if self.training_job(owner, slug) != job_id:
            return
        if self.redis.exists(model_key):
            state = json.loads(self.redis.hget(index, slug) or "{}") | {"training": False}
            self.redis.hset(index, slug, json.dumps(state))
        else:
            self.redis.hdel(index, slug)
            self.redis.delete(names_key)
            self.redis.hdel(self.SIZES_KEY, f"{owner}:{slug}")
        self.redis.delete(training)

    def names(self, owner: str, slug: str) -> list[str] | None:
        raw = self.redis.get(self.NAMES_KEY.format(owner=owner, slug=slug))
        return raw.decode().split("\n") if raw is not None else None

    def training_job(self, owner: str, slug: str) -> str | None:
        raw = self.redis.get(self.TRAINING_KEY.format(owner=owner, slug=slug))
        return raw.decode() if raw else None

    def publish(self, owner: str, slug: str, version: str, model: bytes, reservoir: bytes, report: dict) -> bool:
        """Replace the corpus' artifacts and state with a new version in one transaction; False (nothing
        written) when the corpus was deleted while it trained."""
        index, _, model_key, training = self._keys(owner, slug)
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(index)
                previous = pipe.hget(index, slug)
                if previous is None:
                    return False
                names_bytes = self.redis.strlen(self.NAMES_KEY.format(owner=owner, slug=slug))
                state = json.loads(previous) | {
                    "status": "ready",
                    "training": False,
                    "version": version,
                    "report": report,
                    "updated": time.time(),
                }
                state.pop("error", None)
                pipe.multi()
                pipe.delete(model_key)
                pipe.hset(model_key, mapping={"version": version, "model": model, "reservoir": reservoir})
                pipe.hset(index, slug, json.dumps(state))
                pipe.hset(self.SIZES_KEY, f"{owner}:{slug}", len(model) + len(reservoir) + names_bytes)
                pipe.delete(training)
                pipe.execute()
            except WatchError:
                return False  # deleted (or re-uploaded) meanwhile: the newer state wins
        return True

    def failed(self, owner: str, slug: str, error: str) -> None:
        """Training failed for good: say so; a version already served stays served."""
        index, _, _, training = self._keys(owner, slug)
        if (previous := self.redis.hget(index, slug)) is not None:
            state = json.loads(previous) | {"training": False, "error": error, "updated": time.time()}
            if state.get("status") == "training":
                state["status"] = "failed"
            self.redis.hset(index, slug, json.dumps(state))
        self.redis.delete(training)

    # -- serving ------------------------------------------------------------------------------------
    def version(self, owner: str, slug: str) -> str | None:
        raw = self.redis.hget(self.MODEL_KEY.format(owner=owner, slug=slug), "version")
        return raw.decode() if raw else None

    def artifacts(self, owner: str, slug: str) -> tuple[str, bytes, bytes] | None:
        """(version, model bytes, reservoir bytes), read in one command: never two versions' halves."""
        version, model, reservoir = self.redis.hmget(
            self.MODEL_KEY.format(owner=owner, slug=slug), "version", "model", "reservoir"
        )
        if version is None or model is None or reservoir is None:
            return None
        return version.decode(), model, reservoir

    def delete(self, owner: str, slug: str) -> bool:
        """Forget the list, the artifacts and the state (a training job then publishes nothing)."""
        index, names_key, model_key, training = self._keys(owner, slug)
        with self.redis.pipeline() as pipe:
            pipe.hdel(index, slug)
            pipe.delete(names_key, model_key, training)
            pipe.hdel(self.SIZES_KEY, f"{owner}:{slug}")
            existed, *_ = pipe.execute()
        return bool(existed)

    def forget_owner(self, owner: str) -> list[str]:
        """Delete every corpus of ``owner`` (a team that uninstalled the app); the slugs deleted."""
        slugs = self.slugs(owner)
        for slug in slugs:
            self.delete(owner, slug)
        return slugs

    def keys_of(self, owner: str, slug: str) -> list[str]:
        """The keys one corpus holds (for checks that a delete left nothing)."""
        return [key for key in self._keys(owner, slug)[1:] if self.redis.exists(key)]
