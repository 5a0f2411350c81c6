"""Shared by the benchmarks: the standard names.txt split and a small timing helper."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "names.txt"


def standard_split() -> tuple[list[str], list[str], list[str]]:
    """makemore's split: random.seed(42); shuffle; 80% train, 10% dev, 10% test."""
    words = NAMES.read_text().split()
    random.seed(42)
    random.shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return words[:n1], words[n1:n2], words[n2:]


def timed(fn, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def pct(samples: list[float], q: float) -> float:
    """The q-quantile of ``samples`` (seconds), in milliseconds."""
    return 1000 * sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


def p99_ms(samples: list[float]) -> float:
    return 1000 * sorted(samples)[max(0, int(0.99 * len(samples)) - 1)]


@contextmanager
def running_stack(extra_env: dict[str, str], workers: int = 2) -> Iterator[str]:
    """An embedded redis-server, `workers` x `tnaas worker` and `tnaas web` on 127.0.0.1, rate limits
    and the queue bound lifted, workers logging at WARNING; yields the web base URL, stops all by pid."""
    from redis import Redis

    from tests.conftest import start_web, start_worker, stop_process
    from tnaas.redis_server import EmbeddedRedis

    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        env = os.environ | {"REDIS_URL": server.url, "TNAAS_LOG_LEVEL": "WARNING", "TNAAS_USER_RATE": "1000000",
                            "TNAAS_TEAM_RATE": "1000000", "TNAAS_MAX_QUEUE": "100000"} | extra_env
        processes = []
        try:
            connection = Redis.from_url(server.url)
            processes += [start_worker(env, connection) for _ in range(workers)]
            web, base = start_web(env)
            processes.append(web)
            yield base
        finally:
            for process in processes:
                stop_process(process)
