"""The stack's processes that keep dying soon after their start, as `tnaas up` sees them.

A worker or the scheduler in a crash loop does not stop the stack (the others serve on); the supervisor
keeps retrying it at its longest backoff and records it here, so /healthz says so beside the logs. One
field per process name, removed once that process has run long enough again.
"""

from __future__ import annotations

import json
import time

from redis import Redis


class CrashLoops:
    KEY = "tnaas:crash-loops"

    def __init__(self, connection: Redis):
        self.redis = connection

    def record(self, name: str, exit_code: int | None, quick_exits: int) -> None:
        entry = {"exit_code": exit_code, "quick_exits": quick_exits, "at": time.time()}
        self.redis.hset(self.KEY, name, json.dumps(entry))

    def clear(self, name: str) -> None:
        self.redis.hdel(self.KEY, name)

    def reset(self) -> None:
        """A new `tnaas up`: what the last one saw is history."""
        self.redis.delete(self.KEY)

    def current(self) -> dict[str, dict]:
        return {k.decode(): json.loads(v) for k, v in self.redis.hgetall(self.KEY).items()}
