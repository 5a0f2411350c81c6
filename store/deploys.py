"""Which model version is deployed, and which one each worker holds (for /healthz).

A deploy is ``tnaas train`` followed by ``publish``: the fingerprint of the artifacts folder goes
into Redis, and each worker compares it with what it holds between jobs.
"""

from __future__ import annotations

from redis import Redis


class ModelVersions:
    PUBLISHED_KEY = "tnaas:models:version"
    WORKERS_KEY = "tnaas:workers:models"  # worker name -> model version it holds

    def __init__(self, connection: Redis):
        self.redis = connection

    def publish(self, version: str) -> str:
        self.redis.set(self.PUBLISHED_KEY, version)
        return version

    def published(self) -> str | None:
        return self.version_of(self.redis.get(self.PUBLISHED_KEY))

    def ask_published(self, pipe) -> None:
        """In ``pipe``: the published version (its reply, through ``version_of``, is ``published()``)."""
        pipe.get(self.PUBLISHED_KEY)

    @staticmethod
    def version_of(raw: bytes | None) -> str | None:
        return raw.decode() if raw is not None else None

    def report(self, worker: str, version: str | None) -> None:
        self.redis.hset(self.WORKERS_KEY, worker, version or "")

    def forget(self, worker: str) -> None:
        self.redis.hdel(self.WORKERS_KEY, worker)

    def held(self) -> dict[str, str]:
        """{worker name: the version it holds}."""
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.WORKERS_KEY).items()}
