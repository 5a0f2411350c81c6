"""The generate endpoint on the real stack: requests per second and latency, by client concurrency.

Run: ``.venv/bin/python -m bench.api`` after ``tnaas train``. Starts an embedded redis-server,
`tnaas web` and 2 workers on 127.0.0.1 (stopped by pid at the end), with the rate limits lifted.
Each request is ``POST /api/v1/generate {"corpus": "pokemon", "n": 5}``: the web process enqueues
the job, a worker samples a pool of 100 names, ranks it and records 5 impressions, and the API waits
for the result (200). Sequential: 200 requests; then closed loops of c clients for 10 s each.

Then the cost of metrics on the request path: two stacks side by side, one with metrics (the web
middleware, /metrics, the workers' job timings) and one with ``TNAAS_METRICS=false``, sent the
same sequential requests alternately (ABAB...), so both see the same machine at the same moments.
``--metrics-cost`` runs only that comparison.
"""

from __future__ import annotations

import json
import statistics
import sys
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


def metrics_cost(console: Console, rounds: int = 400) -> None:
    """Median latency with metrics on and off, interleaved request by request."""
    with running_stack({}, workers=1) as on, running_stack({"TNAAS_METRICS": "false"}, workers=1) as off:
        urls = {"metrics on": f"{on}/api/v1/generate", "metrics off": f"{off}/api/v1/generate"}
        for url in urls.values():
            for _ in range(20):
                generate(url)  # warm up
        latencies: dict[str, list[float]] = {name: [] for name in urls}
        for i in range(rounds):  # ABBA: neither side always goes first
            for name, url in list(urls.items())[:: 1 if i % 2 else -1]:
                latencies[name].append(generate(url))
    table = Table("stack", "requests", "median ms", "p90 ms", title="cost of metrics: sequential, interleaved")
    for name, values in latencies.items():
        table.add_row(name, str(len(values)), f"{1000 * statistics.median(values):.2f}", f"{pct(values, 0.9):.2f}")
    console.print(table)
    on_ms, off_ms = (statistics.median(latencies[k]) for k in ("metrics on", "metrics off"))
    paired = statistics.median(a - b for a, b in zip(latencies["metrics on"], latencies["metrics off"]))
    console.print(
        f"metrics cost: medians {100 * (on_ms / off_ms - 1):+.1f}%, paired (median of same-round differences) "
        f"{1000 * paired:+.2f} ms = {100 * paired / off_ms:+.1f}% of the median request (target: under 5%)"
    )
    work = metrics_work_seconds()
    console.print(
        f"the metrics work itself: {1e6 * work:.1f} us per request (web: count + latency; worker: wait, run, "
        f"outcome) = {100 * work / off_ms:.3f}% of the median request without metrics"
    )


def metrics_work_seconds(n: int = 20000) -> float:
    """What one request adds in recording alone: the web's two series and the worker's three."""
    from bot.metrics import LATENCY, REQUESTS
    from jobs.metrics import JOB_RUN, JOB_WAIT, JOBS

    start = time.perf_counter()
    for _ in range(n):
        REQUESTS.labels("POST", "/api/v1/generate", "200").inc()
        LATENCY.labels("POST", "/api/v1/generate", "200").observe(0.03)
        JOB_WAIT.labels("answer_on_web").observe(0.001)
        JOB_RUN.labels("answer_on_web").observe(0.02)
        JOBS.labels("answer_on_web", "finished").inc()
    return (time.perf_counter() - start) / n


def main() -> None:
    console = Console(width=160)
    if "--metrics-cost" in sys.argv[1:]:
        metrics_cost(console)
        return
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
    metrics_cost(console)


if __name__ == "__main__":
    main()
