"""Slack retries an event it thinks we missed, and anyone who captured a signed request can replay it:
each event id, and each signed request, is acted on once."""

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

    def forget(self, event_id: str) -> None:
        """An event acted on in vain (nothing came of it): the next time it is seen is a first time again."""
        self.redis.delete(f"{self.PREFIX}{event_id}")


class SeenRequests:
    """Signatures of signed requests already dispatched. A signature covers the timestamp and the body,
    and a timestamp is only accepted within five minutes of now: remembering each signature for ten
    minutes refuses every replay, while Slack's own retries (newly signed) still reach ``SeenEvents``."""

    PREFIX = "tnaas:request:"
    TTL = 10 * 60

    def __init__(self, connection: Redis):
        self.redis = connection

    def first_time(self, signature: str) -> bool:
        return bool(self.redis.set(f"{self.PREFIX}{signature}", 1, nx=True, ex=self.TTL))
