"""Shared by the benchmarks: timing helpers."""

from __future__ import annotations

import statistics
import time


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
