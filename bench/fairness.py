"""One greedy caller, one neighbour: how much do another's heavy requests delay a cheap one?

Run: ``.venv/bin/python -m bench.fairness`` after ``tnaas train`` (``--baseline DIR``: the same on a
stack running another checkout's code, the stacks in turn). Per stack (2 workers, rate limits lifted),
each round: the neighbour sends ``--requests`` sequential ``POST /api/v1/generate {"corpus":
"pokemon", "n": 1}`` alone; then again while ``--greedy`` clients each send ``POST /api/v1/complete
{"pattern": "********", "corpus": "pypi"}`` back to back (eight stars: about a second of a worker each,
a heavy request). Printed per stack: the neighbour's median and p99 alone and beside the greedy caller,
the p99 delay (the difference, the target being at most 100 ms), and what the greedy caller got
(answered, still queued, refused as busy). Between phases the stack is left to go quiet, so leftover
heavy work does not spill into the next measurement.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from contextlib import ExitStack

from rich.console import Console
from rich.table import Table

from bench.api import settle, stack_with_pids
from bench.common import pct

CHEAP = json.dumps({"corpus": "pokemon", "n": 1}).encode()
HEAVY = json.dumps({"pattern": "*" * 8, "corpus": "pypi"}).encode()
HEADERS = {"Content-Type": "application/json"}


def post(connection: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, float]:
    start = time.perf_counter()
    connection.request("POST", path, body=body, headers=HEADERS)
    with connection.getresponse() as response:
        response.read()
        return response.status, time.perf_counter() - start


def neighbour(base: str, requests: int) -> list[float]:
    """Sequential cheap requests on one kept connection; their wall-clock seconds."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    out = []
    try:
        for _ in range(requests):
            status, seconds = post(connection, "/api/v1/generate", CHEAP)
            assert status == 200, status
            out.append(seconds)
    finally:
        connection.close()
    return out


def greedy(base: str, clients: int, stop: threading.Event) -> Counter:
    """``clients`` threads sending heavy completions back to back until ``stop``; their statuses."""
    parts = urllib.parse.urlsplit(base)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            while not stop.is_set():
                status, _ = post(connection, "/api/v1/complete", HEAVY)
                with lock:
                    statuses[status] += 1
                if status == 503:
                    time.sleep(0.05)  # told it is busy: a polite client pauses, a greedy one barely
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=90)
    return statuses


def measure(base: str, pids: set[int], requests: int, clients: int) -> tuple[list[float], list[float], Counter]:
    settle(pids, timeout=180)
    alone = neighbour(base, requests)
    stop = threading.Event()
    result: dict[str, Counter] = {}
    thread = threading.Thread(target=lambda: result.setdefault("statuses", greedy(base, clients, stop)))
    thread.start()
    time.sleep(2.0)  # the greedy caller's work queued up first
    beside = neighbour(base, requests)
    stop.set()
    thread.join()
    settle(pids, timeout=180)
    return alone, beside, result["statuses"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", action="append", help="another checkout's directory, measured in turn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="the neighbour's requests per phase")
    parser.add_argument("--greedy", type=int, default=4, help="the greedy caller's concurrent clients")
    args = parser.parse_args()
    console = Console(width=140)
    samples: dict[str, dict[str, list]] = {}
    with ExitStack() as started:
        stacks = {d: started.enter_context(stack_with_pids(cwd=d, tcp=True)) for d in args.baseline or []}
        stacks["this checkout"] = started.enter_context(stack_with_pids())
        for _ in range(args.rounds):
            for name, (url, pids) in stacks.items():
                base = url.removesuffix("/api/v1/generate")
                neighbour(base, 10)  # warm
                alone, beside, statuses = measure(base, pids, args.requests, args.greedy)
                got = samples.setdefault(name, {"alone": [], "beside": [], "statuses": Counter()})
                got["alone"] += alone
                got["beside"] += beside
                got["statuses"].update(statuses)
    table = Table(
        "stack",
        "neighbour alone: median / p99 ms",
        "beside greedy: median / p99 ms",
        "p99 delay ms",
        "greedy got (status: count)",
        title=f"a cheap request beside {args.greedy} clients of heavy completions ({args.rounds} rounds)",
    )
    for name, got in samples.items():
        alone, beside = got["alone"], got["beside"]
        table.add_row(
            name,
            f"{1000 * statistics.median(alone):.1f} / {pct(alone, 0.99):.1f}",
            f"{1000 * statistics.median(beside):.1f} / {pct(beside, 0.99):.1f}",
            f"{pct(beside, 0.99) - pct(alone, 0.99):.0f}",
            ", ".join(f"{status}: {count}" for status, count in sorted(got["statuses"].items())),
        )
    console.print(table)


if __name__ == "__main__":
    main()
