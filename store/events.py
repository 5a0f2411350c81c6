"""Slack retries an event it thinks we missed: each event id is acted on once."""

from __future__ import annotations

from redis import Redis


class SeenEvents:
    PREFIX = "tnaas:event:"
    TTL = 24 * 3600  # Slack retries within minutes; a day is plenty

    def __init__(self, connection: Redis):
        self.redis = connection

    def first_time(self, event_id: str) -> bool:
        """True the first time an event id is seen: Slack's retries of it are then ignored."""
        return bool(self.redis.set(f"{self.PREFIX}{event_id}", 1, nx=True, ex=self.TTL))
