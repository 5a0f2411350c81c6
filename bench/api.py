"""The generate endpoint on the real stack: requests per second and latency, by client concurrency.

Run: ``.venv/bin/python -m bench.api`` after ``tnaas train``. ``--baseline DIR`` (repeatable): the
same loads on a stack running another checkout's code (e.g. ``git archive main | tar -x -C DIR``),
the stacks taking turns at each load, so all see the same machine; each stack is measured once its
processes have gone quiet after the warm-up (a worker scores its reservoirs in a thread at start). ``--workers 1,2,4``: requests/s by worker
count. ``--rounds N [--baseline DIR]``: only the two headline figures (sequential median, requests/s
at 8 clients), N rounds with the stacks in turn, medians over rounds (what to quote on a machine whose
speed drifts). ``--table [--baseline DIR]``: the stack beside one-process servers
(``bench.servers``). ``--tcp``: this checkout's stack also with its processes reaching Redis over
TCP rather than the Unix socket ``tnaas up`` gives them. Starts an embedded redis-server,
`tnaas web` and 2 workers on 127.0.0.1 (stopped by pid at the end), with the rate limits lifted.
Each request is ``POST /api/v1/generate {"corpus": "pokemon", "n": 5}``: the web process enqueues
the job, a worker samples a pool of 100 names, ranks it and records 5 impressions, and the API waits
for the result (200). Sequential: 200 requests; then closed loops of c clients for 10 s each. Each client keeps its
connection open, as API clients do (``--new-connections``: a new one per request).

Then the cost of metrics on the request path: two stacks side by side, one with metrics (the web
middleware, /metrics, the workers' job timings) and one with ``TNAAS_METRICS=false``, sent the
same sequential requests alternately (ABAB...), so both see the same machine at the same moments.
``--metrics-cost`` runs only that comparison.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import artifacts_env, children, cpu_seconds, pct
from testkit.processes import running_stack, stop_process, wait_until
from tnaas.redis_server import free_port

BODY = json.dumps({"corpus": "pokemon", "n": 5}).encode()
HEADERS_JSON = {"Content-Type": "application/json"}
# A client keeps its connection open across its requests, as an API client does (requests.Session,
# httpx.Client, Slack's own servers); ``--new-connections``: a new one per request (urllib's way). On 2
# cores shared with the stack the client's cost counts: per request 0.19-0.20 ms of client CPU and
# 0.73-0.76 ms in the web process kept alive, 0.29-0.32 and 0.82-0.92 with a connection each (one run,
# the two in turn).
KEEP_ALIVE = True
IDLE_CONNECTION = 2.0  # seconds: a connection idle longer is not reused (uvicorn closes it after 5)
_connections = threading.local()  # host:port -> (connection, when last used), per client thread


def generate(url: str) -> float:
    """One request; its wall-clock seconds (raises unless the answer came back done)."""
    if not KEEP_ALIVE:
        request = urllib.request.Request(url, data=BODY, method="POST", headers=HEADERS_JSON)
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, response.status
            response.read()
        return time.perf_counter() - start
    parts = urllib.parse.urlsplit(url)
    connection, used_at = _connections.__dict__.get(parts.netloc, (None, 0.0))
    if connection is None or time.monotonic() - used_at > IDLE_CONNECTION:
        if connection is not None:
            connection.close()
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    start = time.perf_counter()
    try:
        connection.request("POST", parts.path, body=BODY, headers=HEADERS_JSON)
        with connection.getresponse() as response:
            response.read()
            assert response.status == 200, response.status
    except BaseException:
        connection.close()
        _connections.__dict__.pop(parts.netloc, None)  # the next request opens a new one
        raise
    _connections.__dict__[parts.netloc] = (connection, time.monotonic())
    return time.perf_counter() - start


def close_connections() -> None:
    """This thread's open connections."""
    for connection, _ in _connections.__dict__.values():
        connection.close()
    _connections.__dict__.clear()


def closed_loop(url: str, clients: int, seconds: float) -> tuple[list[float], float]:
    """``clients`` threads each sending the next request as soon as the last returns, for ``seconds``."""
    deadline = time.perf_counter() + seconds

    def client(_: int) -> list[float]:
        out = []
        try:
            while time.perf_counter() < deadline:
                out.append(generate(url))
        finally:
            close_connections()
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
        JOB_WAIT.labels("answer_web_batch").observe(0.001)
        JOB_RUN.labels("answer_web_batch").observe(0.02)
        JOBS.labels("answer_web_batch", "finished").inc()
    return (time.perf_counter() - start) / n


LOADS = (2, 4, 8, 16, 32)
HEADERS = ("load", "requests", "requests/s", "median ms", "p90 ms", "p99 ms")


def row(label: str, latencies: list[float], elapsed: float) -> list[str]:
    return [
        label,
        str(len(latencies)),
        f"{len(latencies) / elapsed:.0f}",
        f"{1000 * statistics.median(latencies):.1f}",
        f"{pct(latencies, 0.9):.1f}",
        f"{pct(latencies, 0.99):.1f}",
    ]


def sequential_row(url: str, label: str = "sequential", n: int = 200) -> list[str]:
    latencies = [generate(url) for _ in range(n)]
    return row(label, latencies, sum(latencies))


def warm(url: str) -> None:
    for _ in range(20):
        generate(url)  # warm up: connections, first jobs


def settle(pids: set[int], idle: float = 0.05, timeout: float = 90.0) -> None:
    """Wait until the stack's processes use under ``idle`` of a core (a worker scores its reservoirs
    in a thread for some seconds after it starts: a figure taken meanwhile measures that too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pids).values())
        time.sleep(1.0)
        if sum(cpu_seconds(pids).values()) - before < idle:
            return


def cpu_per_request(pids: set[int], run) -> tuple[list[float], float, str]:
    """``run()`` -> (latencies, elapsed); with the CPU ms per request each role spent meanwhile."""
    before, client = cpu_seconds(pids), time.process_time()
    latencies, elapsed = run()
    after, client = cpu_seconds(pids), time.process_time() - client
    spent = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in ("web", "workers", "redis")} | {"client": client}
    n = max(1, len(latencies))
    return latencies, elapsed, " ".join(f"{k} {1000 * v / n:.2f}" for k, v in spent.items())


def loads(console: Console, stacks: dict[str, tuple[str, set[int]]], seconds: float, clients_list=LOADS) -> None:
    """Every load on every stack, the stacks taking turns at each load (side by side in one run), with
    the CPU each process kind spent per request: on a shared machine, what a quiet one could do."""
    for url, _ in stacks.values():
        warm(url)
    for _, pids in stacks.values():
        settle(pids)
    table = Table(
        "stack", *HEADERS, "CPU ms per request", title="POST /api/v1/generate (pokemon, n=5), one 2-core machine"
    )

    def sequential(url: str) -> tuple[list[float], float]:
        latencies = [generate(url) for _ in range(200)]
        return latencies, sum(latencies)

    for name, (url, pids) in stacks.items():
        latencies, elapsed, cpu = cpu_per_request(pids, lambda url=url: sequential(url))
        table.add_row(name, *row("sequential", latencies, elapsed), cpu)
    for clients in clients_list:
        for name, (url, pids) in stacks.items():
            latencies, elapsed, cpu = cpu_per_request(pids, lambda url=url: closed_loop(url, clients, seconds))
            table.add_row(name, *row(f"{clients} clients, {seconds:.0f} s", latencies, elapsed), cpu)
    console.print(table)


def rounds(console: Console, stacks: dict[str, tuple[str, set[int]]], seconds: float, count: int) -> None:
    """Issue 18's two targets, robust to a machine whose speed drifts (a shared VM's can swing 20%
    within minutes): ``count`` rounds, each giving every stack in turn 150 sequential requests and
    ``seconds`` of 8 clients; per stack the median over rounds, and each round's figures."""
    for url, _ in stacks.values():
        warm(url)
    for _, pids in stacks.values():
        settle(pids)
    sequential: dict[str, list[float]] = {name: [] for name in stacks}
    eight: dict[str, list[float]] = {name: [] for name in stacks}
    p99: dict[str, list[float]] = {name: [] for name in stacks}
    for _ in range(count):
        for name, (url, _) in stacks.items():
            sequential[name].append(1000 * statistics.median(generate(url) for _ in range(150)))
            latencies, elapsed = closed_loop(url, 8, seconds)
            eight[name].append(len(latencies) / elapsed)
            p99[name].append(pct(latencies, 0.99))
    table = Table(
        "stack",
        "sequential median ms",
        "8 clients: requests/s",
        "8 clients: p99 ms",
        "rounds (sequential ms / requests/s)",
        title=f"median over {count} rounds, the stacks in turn (POST /api/v1/generate, pokemon, n=5)",
    )
    for name in stacks:
        each = " ".join(f"{s:.1f}/{r:.0f}" for s, r in zip(sequential[name], eight[name]))
        table.add_row(
            name,
            f"{statistics.median(sequential[name]):.2f}",
            f"{statistics.median(eight[name]):.0f}",
            f"{statistics.median(p99[name]):.1f}",
            each,
        )
    console.print(table)


@contextmanager
def stack_with_pids(workers: int = 2, cwd: str | None = None, tcp: bool = False) -> Iterator[tuple[str, set[int]]]:
    """``running_stack`` and the pids of its processes."""
    before = children()
    with running_stack(artifacts_env(cwd), workers=workers, cwd=cwd, tcp=tcp) as base:
        yield f"{base}/api/v1/generate", children() - before


def scaling(console: Console, workers_list: list[int], seconds: float) -> None:
    """Requests/s at 8 and 32 clients with 1, 2, 4 ... workers (one stack at a time)."""
    table = Table("workers", *HEADERS, title="scaling: POST /api/v1/generate, one 2-core machine")
    for workers in workers_list:
        with stack_with_pids(workers=workers) as (url, pids):
            warm(url)
            settle(pids)
            table.add_row(str(workers), *sequential_row(url))
            for clients in (8, 32):
                latencies, elapsed = closed_loop(url, clients, seconds)
                table.add_row(str(workers), *row(f"{clients} clients, {seconds:.0f} s", latencies, elapsed))
    console.print(table)


@contextmanager
def one_process_server(kind: str) -> Iterator[str]:
    """``bench.servers`` KIND on a free loopback port; stopped by its pid."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", kind, str(port)],
        env=os.environ | artifacts_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v1/generate"
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, timeout=120, what=f"the {kind} server")
        assert process.poll() is None, f"{kind} server exited at start"
        yield url
    finally:
        stop_process(process)


def _answers(url: str) -> bool:
    try:
        generate(url)
    except OSError:
        return False
    return True


def issue_table(console: Console, baselines: list[str] | None, seconds: float) -> None:
    """Issue 18's table: each server at 8 clients and sequentially, every server in this one run."""
    table = Table(
        "server",
        "requests/s (8 clients)",
        "median ms",
        "p99 ms",
        "sequential median ms",
        title="the stack beside one-process servers",
    )

    def measure(name: str, url: str) -> None:
        warm(url)
        seq = [generate(url) for _ in range(100)]
        latencies, elapsed = closed_loop(url, 8, seconds)
        table.add_row(
            name,
            f"{len(latencies) / elapsed:.0f}",
            f"{1000 * statistics.median(latencies):.1f}",
            f"{pct(latencies, 0.99):.1f}",
            f"{1000 * statistics.median(seq):.1f}",
        )

    for checkout in baselines or ():
        with stack_with_pids(cwd=checkout, tcp=True) as (url, pids):
            settle(pids)
            measure(f"TNaaS full stack, baseline ({Path(checkout).name})", url)
    with stack_with_pids() as (url, pids):
        settle(pids)
        measure("TNaaS full stack (web + 2 RQ workers + Redis), this checkout", url)
    for kind, name in (
        ("naive", "the original talk's naive handler: markovify trained per request, one process"),
        ("kn5-judge", "our kn5 model + judge ranking (pool 100) called directly in one FastAPI process"),
        ("markovify", "a pretrained markovify chain in one FastAPI process"),
        ("pipeline", "today's pipeline.answer (reservoir draw) called directly in one FastAPI process"),
    ):
        with one_process_server(kind) as url:
            measure(name, url)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics-cost", action="store_true", help="only metrics on vs off")
    parser.add_argument(
        "--baseline",
        action="append",
        help="another checkout's directory: its stack side by side with this one (repeat for several); "
        "its processes reach Redis over TCP, as every checkout before the Unix socket (1c805e2) did",
    )
    parser.add_argument("--workers", help="comma-separated worker counts: requests/s with each")
    parser.add_argument("--table", action="store_true", help="the stack beside one-process servers")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per closed-loop load")
    parser.add_argument(
        "--rounds",
        type=int,
        help="only the targets (sequential, 8 clients), this many rounds, stacks in turn; medians over rounds",
    )
    parser.add_argument(
        "--tcp",
        action="store_true",
        help="with --rounds/--baseline: this checkout's stack also with Redis over TCP (tnaas up: its Unix socket)",
    )
    parser.add_argument(
        "--new-connections",
        action="store_true",
        help="each request on a new connection (urllib's way), not one kept per client",
    )
    args = parser.parse_args()
    global KEEP_ALIVE
    KEEP_ALIVE = not args.new_connections
    console = Console(width=180)
    console.print(f"client: {'a connection kept per client' if KEEP_ALIVE else 'a new connection per request'}")
    if args.metrics_cost:
        metrics_cost(console)
    elif args.table:
        issue_table(console, args.baseline, args.seconds)
    elif args.workers:
        scaling(console, [int(w) for w in args.workers.split(",")], args.seconds)
    elif args.baseline or args.rounds or args.tcp:
        with ExitStack() as started:
            stacks = {
                Path(b).name: started.enter_context(stack_with_pids(cwd=b, tcp=True)) for b in args.baseline or []
            }
            stacks["this checkout"] = started.enter_context(stack_with_pids())
            if args.tcp:
                stacks["this checkout, Redis over TCP"] = started.enter_context(stack_with_pids(tcp=True))
            if args.rounds:
                rounds(console, stacks, args.seconds, args.rounds)
            else:
                loads(console, stacks, args.seconds)
    else:
        with stack_with_pids() as stack:
            loads(console, {"this checkout": stack}, args.seconds)
        metrics_cost(console)


if __name__ == "__main__":
    main()
