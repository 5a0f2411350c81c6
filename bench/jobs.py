"""Jobs on the real stack: enqueue -> result latency and jobs per second, with 1 and 2 workers.

Run: ``.venv/bin/python -m bench.jobs`` after ``tnaas train``. Starts an embedded redis-server and
worker processes (stopped by pid at the end). Latency: one job at a time (median, p99). Throughput:
500 jobs enqueued at once, time until the last result. Also each worker's model load time and RSS.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redis import Redis
from rich.console import Console
from rich.table import Table
from rq import Worker

from bench.common import median_ms, p99_ms
from core.settings import get_settings
from jobs.contracts import CompleteRequest, DetectRequest, GenerateRequest
from jobs.queueing import enqueue, wait_for
from tnaas.redis_server import EmbeddedRedis

REQUESTS = {
    "generate": lambda i: GenerateRequest(corpus="pokemon", n=5, seed=i),
    "complete": lambda i: CompleteRequest(pattern="*u*a", corpus="pokemon", n=5, seed=i),
    "detect": lambda i: DetectRequest(text="snorlax"),
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_workers(count: int, url: str, connection: Redis, log_dir: Path) -> list[tuple[subprocess.Popen, float, Path]]:
    env = os.environ | {
        "REDIS_URL": url,
        "TNAAS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "TNAAS_MAX_QUEUE": "100000",
        "COLUMNS": "300",
    }
    started = []
    for i in range(count):
        log = log_dir / f"worker{i}.log"
        t = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, "-m", "tnaas", "worker"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while not any(w.pid == p.pid for w in Worker.all(connection=connection)) and time.monotonic() < deadline:
            time.sleep(0.05)
        started.append((p, time.perf_counter() - t, log))
    return started


def main() -> None:
    """Workers log at WARNING here (set BENCH_LOG_LEVEL=INFO to see per-job lines and their cost)."""
    settings = get_settings().model_copy(update={"max_queue": 100_000})
    console = Console(width=160)
    table = Table("workers", "job", "enqueue->result median ms", "p99 ms", "jobs/s (500 at once)")
    workers_table = Table("worker", "start to ready s", "of which model load ms", "RSS MB")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        connection = Redis.from_url(server.url)
        for count in (1, 2):
            procs = start_workers(count, server.url, connection, Path(tmp))
            try:
                for kind, make in REQUESTS.items():
                    wait_for(enqueue(connection, make(0), settings), 30)  # warm
                    lat = []
                    for i in range(300):
                        t = time.perf_counter()
                        assert wait_for(enqueue(connection, make(i), settings), 30) is not None
                        lat.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    jobs = [enqueue(connection, make(i), settings) for i in range(500)]
                    for job in jobs:
                        wait_for(job, 60)
                    rate = 500 / (time.perf_counter() - t)
                    table.add_row(str(count), kind, f"{median_ms(lat):.2f}", f"{p99_ms(lat):.2f}", f"{rate:,.0f}")
                if count == 2:
                    for p, ready, log in procs:
                        loaded = re.search(r"detector in (\d+) ms", log.read_text())
                        workers_table.add_row(
                            str(p.pid), f"{ready:.2f}", loaded[1] if loaded else "?", f"{rss_mb(p.pid):.0f}"
                        )
            finally:
                for p, _, _ in procs:
                    p.send_signal(signal.SIGTERM)
                    p.wait(30)
    console.print(table)
    console.print(workers_table)


if __name__ == "__main__":
    main()
