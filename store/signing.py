"""Secret keys the web processes share (when no TNAAS_SECRET_KEY is set): created once, kept in Redis."""

from __future__ import annotations

import secrets

from redis import Redis


class SigningKeys:
    KEY = "tnaas:secret:{name}"

    def __init__(self, connection: Redis):
        self.redis = connection

    def get_or_create(self, name: str) -> bytes:
        key = self.KEY.format(name=name)
        self.redis.set(key, secrets.token_hex(32), nx=True)  # the first web process to ask creates it
        return self.redis.get(key)
