"""The generate endpoint on the real stack: requests per second and latency, by client concurrency.

Run: ``.venv/bin/python -m bench.api`` after ``tnaas train``. Starts an embedded redis-server,
`tnaas web` and 2 workers on 127.0.0.1 (stopped by pid at the end), with the rate limits lifted.
Each request is ``POST /api/v1/generate {"corpus": "pokemon", "n": 5}``: the web process enqueues
the job, a worker samples a pool of 100 names, ranks it and records 5 impressions, and the API waits
for the result (200). Sequential: 200 requests; then closed loops of c clients for 10 s each.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from rich.console import Console
from rich.table import Table

from bench.common import pct
from testkit.processes import running_stack

BODY = json.dumps({"corpus": "pokemon", "n": 5}).encode()


def generate(url: str) -> float:
    """One request; its wall-clock seconds (raises unless the answer came back done)."""
    request = urllib.request.Request(url, data=BODY, method="POST", headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.status
        response.read()
    return time.perf_counter() - start


def closed_loop(url: str, clients: int, seconds: float) -> tuple[list[float], float]:
    """``clients`` threads each sending the next request as soon as the last returns, for ``seconds``."""
    deadline = time.perf_counter() + seconds

    def client(_: int) -> list[float]:
        out = []
        while time.perf_counter() < deadline:
            out.append(generate(url))
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for part in pool.map(client, range(clients)) for t in part]
    return latencies, time.perf_counter() - start


def main() -> None:
    console = Console(width=160)
    with running_stack({}) as base:
        url = f"{base}/api/v1/generate"
        for _ in range(20):
            generate(url)  # warm up: connections, first jobs
        table = Table(
            "load",
            "requests",
            "requests/s",
            "median ms",
            "p90 ms",
            "p99 ms",
            title="POST /api/v1/generate (pokemon, n=5, pool 100): web + 2 workers, one 2-core machine",
        )
        sequential = [generate(url) for _ in range(200)]
        table.add_row(
            "sequential",
            str(len(sequential)),
            f"{len(sequential) / sum(sequential):.0f}",
            f"{1000 * statistics.median(sequential):.1f}",
            f"{pct(sequential, 0.9):.1f}",
            f"{pct(sequential, 0.99):.1f}",
        )
        for clients in (2, 4, 8, 16, 32):
            latencies, elapsed = closed_loop(url, clients, 10.0)
            table.add_row(
                f"{clients} clients, 10 s",
                str(len(latencies)),
                f"{len(latencies) / elapsed:.0f}",
                f"{1000 * statistics.median(latencies):.1f}",
                f"{pct(latencies, 0.9):.1f}",
                f"{pct(latencies, 0.99):.1f}",
            )
        console.print(table)


if __name__ == "__main__":
    main()
