"""What the availability checks keep in Redis, shared by every worker of the stack.

- ``AvailabilityCache``: live registry answers, so a name shown twice within the TTL is asked once. Only
  answers a registry actually gave are kept ("free", "taken"); "unknown" is never cached, so a registry
  that was down is asked again next time. Redis being unavailable is a cache miss, not an error.
- ``RegistryGate``: how many registry calls may be made now (token buckets per caller and per registry
  for the whole stack), and each registry's circuit breaker. One script call decides an ask, so workers
  on several machines share the same budgets. Redis being unavailable lets the ask through (the per
  request bound still holds), as a worker without Redis gets no jobs anyway.
- ``SnapshotStates``: which snapshot each registry's checks use, as the process that made or loaded it
  reported it, for /healthz and /metrics (which may run on machines without the snapshot files).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CACHEABLE = ("free", "taken")


class AvailabilityCache:
    prefix = "tnaas:availability:"  # + "<registry>:<registry key of the name>"

    def __init__(self, connection: Redis, ttl: int):
        self.connection = connection
        self.ttl = ttl

    def key(self, registry: str, name_key: str) -> str:
        return f"{self.prefix}{registry}:{name_key}"

    def get_many(self, registry: str, name_keys: list[str]) -> dict[str, tuple[str, str]]:
        """name key -> (verdict, reason) for the keys cached and still fresh."""
        return self.get_across({registry: name_keys})[registry]

    def get_across(self, asked: dict[str, list[str]]) -> dict[str, dict[str, tuple[str, str]]]:
        """``get_many`` for several registries in one round trip: registry -> name key -> (verdict, reason)."""
        out: dict[str, dict[str, tuple[str, str]]] = {registry: {} for registry in asked}
        wanted = [(registry, k) for registry, keys in asked.items() for k in keys]
        if not wanted:
            return out
        try:
            values = self.connection.mget([self.key(registry, k) for registry, k in wanted])
        except RedisError as err:
            log.warning("availability cache unavailable (%s): asking the registry", err)
            return out
        for (registry, name_key), value in zip(wanted, values):
            if value is None:
                continue
            try:
                doc = json.loads(value)
                if doc["verdict"] in CACHEABLE:
                    out[registry][name_key] = (doc["verdict"], str(doc.get("reason", "")))
            except (ValueError, KeyError, TypeError):
                continue  # an unreadable entry is a miss; the next put overwrites it
        return out

    def put_many(self, registry: str, answers: dict[str, tuple[str, str]]) -> None:
        """Keep registry answers for ``ttl`` seconds; anything but free/taken is ignored."""
        kept = {k: v for k, v in answers.items() if v[0] in CACHEABLE}
        if not kept:
            return
        now = time.time()
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                for name_key, (verdict, reason) in kept.items():
                    doc = json.dumps({"verdict": verdict, "reason": reason, "checked_at": now})
                    pipe.set(self.key(registry, name_key), doc, ex=self.ttl)
                pipe.execute()
        except RedisError as err:
            log.warning("availability cache unavailable (%s): answers not cached", err)


@dataclass(frozen=True)
class Admission:
    """What the gate allows one ask: ``granted`` calls now (0: none), and if fewer than wanted, why
    (``breaker``, ``probe``: this ask should probe the registry in the background, ``caller``,
    ``stack``) and in how many seconds asking again makes sense."""

    granted: int
    why: str = ""
    wait: float = 0.0


# KEYS: the registry's breaker, the stack's bucket for it[, the caller's bucket]. ARGV: calls wanted, the
# fewest worth making, seconds a probe may take, then (capacity, refill per second) of each bucket.
# Returns {granted, why, wait}: an open breaker grants nothing (once its cool-down is over, the first
# ask is told to probe); else the fewest tokens any bucket holds, taken from all of them.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until > 0 then
  if now < open_until then return {0, 'breaker', tostring(open_until - now)} end
  local probing = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
  if now < probing then return {0, 'breaker', tostring(probing - now)} end
  redis.call('HSET', KEYS[1], 'probe_until', tostring(now + tonumber(ARGV[3])))
  return {0, 'probe', ARGV[3]}
end
local fewest = tonumber(ARGV[2])
local granted = tonumber(ARGV[1])
local why, wait = '', 0
local held = {}
for i = 2, #KEYS do
  local cap, rate = tonumber(ARGV[2 + 2 * (i - 1)]), tonumber(ARGV[3 + 2 * (i - 1)])
  local b = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local have = tonumber(b[1]) or cap
  have = math.min(cap, have + math.max(0, now - (tonumber(b[2]) or now)) * rate)
  held[i] = have
  if math.floor(have) < granted then
    granted = math.floor(have)
    why = (i == 2) and 'stack' or 'caller'
    wait = math.max(0, fewest - have) / rate
  end
end
if granted < fewest then granted = 0 end
for i = 2, #KEYS do
  local cap, rate = tonumber(ARGV[2 + 2 * (i - 1)]), tonumber(ARGV[3 + 2 * (i - 1)])
  redis.call('HSET', KEYS[i], 'tokens', tostring(held[i] - granted), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[i], math.ceil(cap / rate) + 1)
end
return {granted, why, tostring(wait)}
"""

# KEYS: the registry's breaker. ARGV: calls answered, calls failed, failures in a row that open it, its
# cool-down in seconds. Any answer closes it; failures add up until they open it (again, after a probe).
RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local was_open = redis.call('HEXISTS', KEYS[1], 'open_until') == 1
if tonumber(ARGV[1]) > 0 then
  redis.call('DEL', KEYS[1])
  if was_open then return 'closed' end
  return ''
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', ARGV[2])
redis.call('HDEL', KEYS[1], 'probe_until')
redis.call('EXPIRE', KEYS[1], 86400)
if failures >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'open_until', tostring(now + tonumber(ARGV[4])))
  if was_open then return 'still open' end
  return 'opened'
end
return ''
"""


class RegistryGate:
    """Token buckets (per caller, across registries; per registry, for the whole stack) and a circuit
    breaker per registry, all in Redis."""

    prefix = "tnaas:availability:"  # + "breaker:<registry>", "bucket:stack:<registry>", "bucket:caller:<who>"

    def __init__(
        self,
        connection: Redis,
        caller_burst: int,
        caller_rate: float,
        stack_burst: int,
        stack_rate: float,
        failures: int,
        cooldown: float,
        probe_ttl: float,
    ):
        self.connection = connection
        self.caller_burst, self.caller_rate = caller_burst, caller_rate
        self.stack_burst, self.stack_rate = stack_burst, stack_rate
        self.failures, self.cooldown, self.probe_ttl = failures, cooldown, probe_ttl
        self._admit = connection.register_script(ADMIT)
        self._record = connection.register_script(RECORD)

    @classmethod
    def from_settings(cls, connection: Redis, settings) -> RegistryGate:
        return cls(
            connection,
            settings.availability_caller_burst,
            settings.availability_caller_rate,
            settings.availability_stack_burst,
            settings.availability_stack_rate,
            settings.availability_breaker_failures,
            settings.availability_breaker_cooldown,
            probe_ttl=2 * settings.availability_timeout + 1,  # a probe that never reported is retried after this
        )

    def breaker_key(self, registry: str) -> str:
        return f"{self.prefix}breaker:{registry}"

    def bucket_key(self, scope: str, who: str) -> str:
        return f"{self.prefix}bucket:{scope}:{who}"

    def admit(self, asks: list[tuple[str, str | None, int, int]]) -> list[Admission]:
        """Per ``(registry, caller, calls wanted, fewest worth making)``: the calls it may make now, all
        decided in one round trip. A caller of None spends only the stack's budget."""
        if not asks:
            return []
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                for registry, caller, want, fewest in asks:
                    keys = [self.breaker_key(registry), self.bucket_key("stack", registry)]
                    args = [want, fewest, self.probe_ttl, self.stack_burst, self.stack_rate]
                    if caller is not None:
                        keys.append(self.bucket_key("caller", caller))
                        args += [self.caller_burst, self.caller_rate]
                    self._admit(keys=keys, args=args, client=pipe)
                replies = pipe.execute()
        except RedisError as err:
            log.warning("registry budgets unavailable (%s): asking within the request's own bound", err)
            return [Admission(want) for _, _, want, _ in asks]
        return [Admission(int(granted), _text(why), float(_text(wait))) for granted, why, wait in replies]

    def record(self, registry: str, answered: int, failed: int) -> None:
        """One batch's outcome on ``registry``: any answer closes its breaker, failures add up to open it."""
        if not answered and not failed:
            return
        try:
            changed = _text(
                self._record(keys=[self.breaker_key(registry)], args=[answered, failed, self.failures, self.cooldown])
            )
        except RedisError as err:
            log.warning("registry breaker unavailable (%s)", err)
            return
        if changed == "opened":
            log.warning(
                "%s registry: %d failed calls in a row, not asked for %g s (marks read unknown)",
                registry,
                self.failures,
                self.cooldown,
            )
        elif changed == "closed":
            log.info("%s registry answers again: asked as before", registry)

    def states(self, registries: tuple[str, ...]) -> dict[str, dict]:
        """Per registry: ``open`` (bool) and ``failures`` in a row, for /metrics."""
        now = time.time()
        with self.connection.pipeline(transaction=False) as pipe:
            for registry in registries:
                pipe.hgetall(self.breaker_key(registry))
            found = pipe.execute()
        out = {}
        for registry, fields in zip(registries, found):
            fields = {_text(k): _text(v) for k, v in fields.items()}
            open_until = float(fields.get("open_until", 0) or 0)
            out[registry] = {"open": bool(open_until), "failures": int(fields.get("failures", 0) or 0)}
            out[registry]["cooling"] = max(0.0, open_until - now) if open_until else 0.0
        return out


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class SnapshotState:
    """A snapshot as /healthz, /metrics and `tnaas availability status` show it."""

    registry: str
    state: str  # none | fresh | due (older than the refresh interval) | stale (twice that: refreshes fail)
    age: float | None = None  # seconds
    names: int | None = None
    source: str | None = None


def snapshot_state(registry: str, description: dict | None, refresh_every: float, now: float) -> SnapshotState:
    """What a snapshot's description (``Snapshot.describe``) says about it at ``now``."""
    if description is None:
        return SnapshotState(registry, "none")
    age = max(0.0, now - float(description.get("built_at", 0.0)))
    state = "fresh" if age < refresh_every else "due" if age < 2 * refresh_every else "stale"
    return SnapshotState(registry, state, round(age, 1), int(description.get("keys", 0)), description.get("source"))


class SnapshotStates:
    """Each registry's snapshot as last made or loaded (its ``Snapshot.describe()``), and the lock that
    lets one scheduled refresh per registry run at a time."""

    key = "tnaas:availability:snapshots"  # hash: registry -> JSON description
    refreshing_prefix = "tnaas:availability:refreshing:"  # + registry

    def __init__(self, connection: Redis):
        self.connection = connection

    def report(self, registry: str, description: dict | None) -> None:
        try:
            if description is None:
                self.connection.hdel(self.key, registry)
            else:
                self.connection.hset(self.key, registry, json.dumps(description))
        except RedisError as err:
            log.warning("snapshot state not reported (%s)", err)

    def all(self) -> dict[str, dict]:
        out = {}
        for registry, value in self.connection.hgetall(self.key).items():
            try:
                out[_text(registry)] = json.loads(value)
            except ValueError:
                continue
        return out

    def claim_refresh(self, registry: str, seconds: float) -> bool:
        """True for the one process that may refresh ``registry`` now (two schedulers enqueue twice)."""
        return bool(self.connection.set(self.refreshing_prefix + registry, 1, nx=True, ex=max(1, math.ceil(seconds))))

    def release_refresh(self, registry: str) -> None:
        self.connection.delete(self.refreshing_prefix + registry)
