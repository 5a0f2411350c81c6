"""Idempotency: the first request under a key claims its job id; retries of it find the same job."""

from __future__ import annotations

from redis import Redis

from store.connection import acknowledged, acknowledged_async


class Claims:
    KEY = "tnaas:claim:{job_id}"

    def __init__(self, connection: Redis):
        self.redis = connection

    def claim(self, job_id: str, seconds: int) -> bool:
        """True for the first caller only, for ``seconds`` (as long as the answer itself is kept); under
        Sentinel, once a replica has it (a claim lost in a failover would run the request twice)."""
        key = self.KEY.format(job_id=job_id)
        return bool(acknowledged(self.redis, lambda pipe: pipe.set(key, 1, nx=True, ex=max(1, seconds)))[0])

    async def claim_async(self, job_id: str, seconds: int) -> bool:
        """``claim`` on a ``redis.asyncio`` connection (the web process)."""
        key = self.KEY.format(job_id=job_id)
        return bool(
            (await acknowledged_async(self.redis, lambda pipe: pipe.set(key, 1, nx=True, ex=max(1, seconds))))[0]
        )
