"""Who sweeps a queue's abandoned jobs right now: a short lock, so two workers never retry one job twice."""

from __future__ import annotations

from redis import Redis


class SweepLock:
    KEY = "tnaas:sweep:{queue}"

    def __init__(self, connection: Redis):
        self.redis = connection

    def claim(self, queue: str, seconds: float) -> bool:
        """True for the one caller that may sweep ``queue`` for the next ``seconds``."""
        return bool(self.redis.set(self.KEY.format(queue=queue), 1, nx=True, px=max(1, int(seconds * 1000))))
