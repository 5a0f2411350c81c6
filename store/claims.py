"""Idempotency: the first request under a key claims its job id; retries of it find the same job."""

from __future__ import annotations

from redis import Redis


class Claims:
    KEY = "tnaas:claim:{job_id}"

    def __init__(self, connection: Redis):
        self.redis = connection

    def claim(self, job_id: str, seconds: int) -> bool:
        """True for the first caller only, for ``seconds`` (as long as the answer itself is kept)."""
        return bool(self.redis.set(self.KEY.format(job_id=job_id), 1, nx=True, ex=max(1, seconds)))
