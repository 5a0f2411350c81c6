"""What Redis keeps per request, and what /top costs with many impressions stored, on this checkout
and on others.

Run: ``.venv/bin/python -m bench.storage`` (this checkout); ``--baseline DIR`` (repeatable): the same
on another checkout's code (e.g. ``git archive COMMIT | tar -x -C DIR``), one after the other. For each
checkout: an embedded redis-server (maxmemory lifted, so nothing is evicted) and that checkout's
`tnaas web` on 127.0.0.1, stopped by pid. Requests of 5 names are recorded directly through that
checkout's ``store.votes.VoteStore.impression_commands`` (pipelined, as a worker records them, rows
shaped like a real answer's: the judge's probability for 7 corpora, nats per character under 4 models),
one message in 100 up-voted, up to each ``--sizes`` number of impressions. At each size: Redis'
``used_memory`` per request kept (INFO memory), and ``GET /api/v1/top`` over HTTP: median and worst of
``--repeat`` calls one after another, and the wall time of ``--concurrent`` calls at once.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from redis import Redis
from rich.console import Console
from rich.table import Table

from testkit.processes import python_of, start_web, stop_process, tnaas_env
from tnaas.redis_server import EmbeddedRedis

NAMES = 5  # per request
VOTED = 100  # one request in this many gets an up-vote
CORPORA = ["cats", "dogs", "npm", "pokemon", "pypi", "superheroes", "swedish"]
MODELS = ["kn5", "kn3", "markov3", "markov2"]
console = Console(width=150)


def fill(url: str, first: int, last: int) -> None:
    """(Run with the checkout's code first on sys.path.) Record requests ``first`` .. ``last - 1``."""
    from store.votes import Impression, VoteStore

    rng = random.Random(first)
    words = Path(__file__).resolve().parents[1].joinpath("corpora", "pypi.txt").read_text().split()
    connection = Redis.from_url(url)
    store = VoteStore(connection)
    now = time.time()
    for start in range(first, last, 500):
        with connection.pipeline(transaction=False) as pipe:
            for m in range(start, min(start + 500, last)):
                rows = [
                    Impression(
                        channel="web", ts=f"{m:032x}", index=i, name=rng.choice(words), corpus="pypi", model="kn5",
                        model_version="e2654446cffa", log_prob=round(-rng.uniform(10, 40), 4),
                        believability=round(rng.random(), 4), real=round(rng.random(), 4),
                        judge={c: round(rng.random(), 4) for c in CORPORA},
                        nll={k: round(rng.uniform(1.5, 3), 4) for k in MODELS}, requested_n=NAMES,
                        requested_by=f"web-{m % 997:06x}", surface="web", shown_at=now + m / 1000,
                    )
                    for i in range(1, NAMES + 1)
                ]  # fmt: skip
                for command in store.impression_commands(rows):
                    pipe.execute_command(*command)
            pipe.execute()
        for m in range(start, min(start + 500, last)):
            if m % VOTED == 0:
                store.vote("web", f"{m:032x}", 1 + m % NAMES, f"addr-{m % 7}", 1)


def top_timings(base: str, repeat: int, concurrent: int) -> tuple[float, float, float]:
    """(median ms, worst ms, wall s of ``concurrent`` calls at once) of GET /api/v1/top."""

    def call() -> float:
        start = time.perf_counter()
        with urllib.request.urlopen(f"{base}/api/v1/top", timeout=900) as response:
            response.read()
            assert response.status == 200
        return time.perf_counter() - start

    samples = [call() for _ in range(repeat)]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrent) as pool:
        list(pool.map(lambda _: call(), range(concurrent)))
    return 1000 * statistics.median(samples), 1000 * max(samples), time.perf_counter() - start


def measure(checkout: str | None, sizes: list[int], repeat: int, concurrent: int) -> list[dict]:
    """Each size's figures on ``checkout`` (None: this one)."""
    code = str(Path(checkout).resolve()) if checkout else str(Path(__file__).resolve().parents[1])
    out = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis", maxmemory="16gb") as server:
        connection = Redis.from_url(server.url)
        env = tnaas_env(Path(tmp) / "artifacts", REDIS_URL=server.url, TNAAS_USER_RATE=10**6)
        web, base = start_web(env, cwd=checkout)
        try:
            empty = connection.info("memory")["used_memory"]
            requests = 0
            for size in sizes:
                wanted = size // NAMES
                # This file, run with the checkout's packages first on the path (its cwd): its store records.
                run = (
                    f"import runpy, sys; sys.argv = {[__file__, '--fill', server.url, str(requests), str(wanted)]!r}; "
                )
                run += f"runpy.run_path({__file__!r}, run_name='__main__')"
                subprocess.run([python_of(checkout), "-c", run], cwd=code, check=True)
                requests = wanted
                used = connection.info("memory")["used_memory"] - empty
                median, worst, wall = top_timings(base, repeat if size < 10**6 else max(1, repeat // 5), concurrent)
                out.append(
                    {"impressions": size, "bytes/request": used / requests, "MB": used / 2**20, "median": median,
                     "worst": worst, "concurrent": wall}
                )  # fmt: skip
                console.print(f"{code}: {out[-1]}")
        finally:
            stop_process(web)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="append", default=[], help="another checkout to measure too")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=10, help="/top calls one after another (a fifth at 1M)")
    parser.add_argument("--concurrent", type=int, default=20, help="/top calls at once")
    parser.add_argument("--fill", nargs=3, metavar=("URL", "FIRST", "LAST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        fill(args.fill[0], int(args.fill[1]), int(args.fill[2]))
        return
    results = {(checkout or "this checkout"): measure(checkout, args.sizes, args.repeat, args.concurrent)
               for checkout in [*args.baseline, None]}  # fmt: skip
    table = Table("checkout", "impressions", "Redis bytes/request", "Redis MB", "/top median ms", "/top worst ms",
                  f"{args.concurrent} /top at once, s", title="storage and /top")  # fmt: skip
    for checkout, rows in results.items():
        for r in rows:
            table.add_row(
                checkout, f"{r['impressions']:,}", f"{r['bytes/request']:,.0f}", f"{r['MB']:,.1f}",
                f"{r['median']:,.1f}", f"{r['worst']:,.1f}", f"{r['concurrent']:,.2f}",
            )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
