"""The generate endpoint on the real stack: requests per second and latency, by client concurrency.

Run: ``.venv/bin/python -m bench.api`` after ``tnaas train``. Starts an embedded redis-server,
`tnaas web` and 2 workers on 127.0.0.1 (stopped by pid at the end), with the rate limits lifted.
Each request is ``POST /api/v1/generate {"corpus": "pokemon", "n": 5}``: the web process enqueues
the job, a worker samples a pool of 100 names, ranks it and records 5 impressions, and the API waits
for the result (200). Sequential: 200 requests; then closed loops of c clients for 10 s each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from redis import Redis
from rich.console import Console
from rich.table import Table
from rq import Worker

from tests.conftest import stop_process, wait_until
from tests.test_slack import _up
from tnaas.redis_server import EmbeddedRedis, free_port

BODY = json.dumps({"corpus": "pokemon", "n": 5}).encode()


def generate(url: str) -> float:
    """One request; its wall-clock seconds (raises unless the answer came back done)."""
    request = urllib.request.Request(url, data=BODY, method="POST", headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.status
        response.read()
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    return 1000 * sorted(values)[min(len(values) - 1, int(q * len(values)))]


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
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        port = free_port()
        env = os.environ | {"REDIS_URL": server.url, "TNAAS_PORT": str(port), "TNAAS_LOG_LEVEL": "WARNING",
                            "TNAAS_USER_RATE": "1000000", "TNAAS_TEAM_RATE": "1000000", "TNAAS_MAX_QUEUE": "100000"}
        procs = [subprocess.Popen([sys.executable, "-m", "tnaas", kind], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for kind in ("web", "worker", "worker")]
        try:
            connection = Redis.from_url(server.url)
            wait_until(lambda: len(Worker.all(connection=connection)) == 2, timeout=120, what="workers")
            wait_until(lambda: _up(port), timeout=30, what="web")
            url = f"http://127.0.0.1:{port}/api/v1/generate"
            for _ in range(20):
                generate(url)  # warm up: connections, first jobs
            table = Table("load", "requests", "requests/s", "median ms", "p90 ms", "p99 ms",
                          title="POST /api/v1/generate (pokemon, n=5, pool 100): web + 2 workers, one 2-core machine")
            sequential = [generate(url) for _ in range(200)]
            table.add_row("sequential", str(len(sequential)), f"{len(sequential) / sum(sequential):.0f}",
                          f"{1000 * statistics.median(sequential):.1f}", f"{pct(sequential, 0.9):.1f}", f"{pct(sequential, 0.99):.1f}")
            for clients in (2, 4, 8, 16, 32):
                latencies, elapsed = closed_loop(url, clients, 10.0)
                table.add_row(f"{clients} clients, 10 s", str(len(latencies)), f"{len(latencies) / elapsed:.0f}",
                              f"{1000 * statistics.median(latencies):.1f}", f"{pct(latencies, 0.9):.1f}", f"{pct(latencies, 0.99):.1f}")
            console.print(table)
        finally:
            for process in procs:
                stop_process(process)


if __name__ == "__main__":
    main()
