"""Shared by the benchmarks: the standard names.txt split and a small timing helper."""

from __future__ import annotations

import random
import statistics
import time
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


def p99_ms(samples: list[float]) -> float:
    return 1000 * sorted(samples)[max(0, int(0.99 * len(samples)) - 1)]
