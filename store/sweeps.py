"""Who sweeps a queue's abandoned jobs, and when: two workers, or a worker's pulse and rq's own
registry maintenance, must never look at the same abandoned job at once, or both retry it and it runs
twice (and again after it has failed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress

from redis import Redis
from redis.exceptions import LockError


class SweepLock:
    KEY = "tnaas:sweep:{queue}"  # how often: at most one sweep of a queue per heartbeat, by any worker
    HOLD_KEY = "tnaas:sweeping:{queue}"  # who: the one process cleaning the queue's registries now

    def __init__(self, connection: Redis):
        self.redis = connection

    def claim(self, queue: str, seconds: float) -> bool:
        """True for the one caller that may sweep ``queue`` for the next ``seconds``."""
        return bool(self.redis.set(self.KEY.format(queue=queue), 1, nx=True, px=max(1, int(seconds * 1000))))

    @contextmanager
    def holding(self, queues: Iterable[str], seconds: float) -> Iterator[bool]:
        """Hold every queue's cleaning lock for the block (True), or none of them (False: someone is
        cleaning one now). A holder that dies frees it after ``seconds`` (the workers pass
        TNAAS_WORKER_SILENT: a dead sweeper delays the next sweep by no more than a dead worker is
        noticed in; a sweep takes milliseconds). redis-py's Lock releases only its own token."""
        with ExitStack() as stack:
            for queue in queues:
                lock = self.redis.lock(self.HOLD_KEY.format(queue=queue), timeout=seconds, blocking=False)
                if not lock.acquire():
                    yield False
                    return
                stack.callback(_release, lock)
            yield True


def _release(lock) -> None:
    with suppress(LockError):  # held past its timeout and taken over: nothing of ours to release
        lock.release()
