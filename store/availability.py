"""Live registry answers cached in Redis, so a name shown twice within the TTL is asked once.

Only answers a registry actually gave are kept ("free", "taken"); "unknown" is never cached, so a
registry that was down is asked again next time. Redis being unavailable is a cache miss, not an error.
"""

from __future__ import annotations

import json
import logging
import time

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
