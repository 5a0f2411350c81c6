"""Faults under load: kill a worker, Redis and the web process of a running `tnaas up`, by pid.

Run: ``.venv/bin/python -m bench.faults`` after ``tnaas train`` (``TNAAS_ARTIFACTS_DIR`` picks the
models). Starts `tnaas up` (embedded Redis on a temporary data dir, web, 2 workers, scheduler) on
127.0.0.1 with the rate limits lifted, and ``CLIENTS`` clients in closed loops: each asks for names
(``POST /api/v1/generate`` under an idempotency key, polling a 202) and up-votes the first name of
every answer under its own page cookie. A client does what the page does: on a dropped connection
or a 503 it retries the same request, under the same key, for up to ``PATIENCE`` seconds.

Then, ``STEADY`` seconds apart: SIGKILL a worker, SIGKILL redis-server, SIGKILL the web process,
and SIGTERM the web process (a deploy). For each fault, the requests started from the fault until
the next one: sent; answered (200, after retries); errored (a JSON error after retries, e.g. "busy");
lost (no answer in ``PATIENCE`` s, or not JSON); votes acknowledged and acknowledged votes missing
from Redis at the end; seconds from the signal until a request sent after it is answered (recovered)
and until the stack is whole again (/healthz ready with every worker live: a new worker loads its
models first). Targets: 0 lost, 0 acknowledged votes lost, recovery under 5 s.

``--fsync-cost``: what ``TNAAS_REDIS_FSYNC=always`` costs a vote: two redis-servers side by side
(appendfsync everysec and always), the same votes sent to each alternately (ABBA), median and p90
latency of ``VoteStore.vote`` and the paired difference; then 8 threads voting for 5 s on each.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from rich.console import Console
from rich.table import Table

from bench.common import pct
from store.votes import VoteStore
from testkit.processes import SupervisorLog, stop_process, voter_cookie, wait_until
from tnaas.redis_server import EmbeddedRedis, free_port

CLIENTS = 4
STEADY = 10.0  # seconds of load before the first fault and between faults
PATIENCE = 20.0  # seconds a client keeps retrying one request
FAULTS = [("worker.1", signal.SIGKILL), ("redis", signal.SIGKILL), ("web", signal.SIGKILL), ("web", signal.SIGTERM)]


@dataclass
class Outcome:
    started: float
    kind: str  # answered, errored, lost
    detail: str = ""
    ended: float = 0.0


@dataclass
class Load:
    base: str
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] = field(default_factory=list)
    votes: list[tuple[float, str]] = field(default_factory=list)  # (its request's start, answer id) acknowledged

    def call(self, method: str, path: str, body: dict | None, headers: dict) -> tuple[str, int, dict | None]:
        """One request, retried as the page retries it; (outcome, last status, body)."""
        deadline = time.monotonic() + PATIENCE
        status, answer = 0, None
        while time.monotonic() < deadline:
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(
                f"{self.base}{path}", data=data, method=method, headers={"Content-Type": "application/json"} | headers
            )
            try:
                with urllib.request.urlopen(request, timeout=PATIENCE) as response:
                    status, text, retry_after = response.status, response.read(), None
            except urllib.error.HTTPError as err:
                status, text, retry_after = err.code, err.read(), err.headers.get("Retry-After")
            except OSError:  # refused, reset, timed out: the web process is restarting
                time.sleep(0.25)
                continue
            try:
                answer = json.loads(text)
            except ValueError:
                return "lost", status, None  # not JSON: nobody can act on it
            if status == 503:
                time.sleep(min(float(retry_after or 1), 2.0))
                continue
            return ("answered" if status < 300 else "errored"), status, answer
        return ("errored" if answer is not None else "lost"), status, answer

    def client(self, cookie: str) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            key = {"Idempotency-Key": uuid.uuid4().hex}
            kind, status, answer = self.call("POST", "/api/v1/generate", {"corpus": "pokemon", "n": 3}, key)
            while kind == "answered" and status == 202 and time.monotonic() - started < PATIENCE:
                time.sleep(0.2)
                kind, status, answer = self.call("GET", answer["poll"], None, {})
            if kind == "answered" and status == 202:
                kind = "errored"  # still queued after PATIENCE: a clear "try later", not a loss
            self.outcomes.append(Outcome(started, kind, str(status), time.monotonic()))
            if kind == "answered" and answer.get("names", {}).get("candidates"):
                vote = {"answer_id": answer["answer_id"], "index": 1, "direction": 1}
                vote_kind, _, _ = self.call("POST", "/api/v1/votes", vote, {"Cookie": cookie})
                if vote_kind == "answered":
                    self.votes.append((started, answer["answer_id"]))


def ready(base: str, workers: int, gone: int | None = None) -> bool:
    """/healthz ready with ``workers`` live workers, the one with pid ``gone`` not among them."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            report = json.loads(response.read())
    except (OSError, ValueError):
        return False
    live = [w for w in report["workers"] if (w["heartbeat_age"] or 99) < 3 and w["pid"] != gone]
    return report["ok"] and len(live) >= workers


def probe(base: str) -> bool:
    request = urllib.request.Request(
        f"{base}/api/v1/generate", data=b'{"corpus": "pokemon", "n": 1}', headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def run_faults(console: Console) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "TNAAS_PORT": str(port),
            "TNAAS_DATA_DIR": tmp,
            "TNAAS_WORKERS": "2",
            "TNAAS_USER_RATE": "1000000",
            "TNAAS_TEAM_RATE": "1000000",
            "TNAAS_VOTE_RATE": "1000000",
            "TNAAS_MAX_QUEUE": "100000",
            "TNAAS_TRAIN_ON_UP": "false",  # the models given, nothing more
            "TNAAS_DEFAULT_MODEL": os.environ.get("TNAAS_DEFAULT_MODEL", "kn3"),
        }
        env.pop("REDIS_URL", None)
        up = subprocess.Popen(
            [sys.executable, "-m", "tnaas", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        log = SupervisorLog(up)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: ready(base, 2), timeout=120, what="the stack")
            load = Load(base)
            cookies = [voter_cookie(base) for _ in range(CLIENTS)]
            pool = ThreadPoolExecutor(CLIENTS)
            futures = [pool.submit(load.client, cookie) for cookie in cookies]
            time.sleep(STEADY)
            marks, wholes, recoveries = [], [], []
            for name, sig in FAULTS:
                marks.append(time.monotonic())
                pid = log.pids()[name]
                os.kill(pid, sig)
                wait_until(
                    lambda: log.pids()[name] != pid and ready(base, 2, gone=pid),
                    timeout=90,
                    interval=0.05,
                    what="whole",
                )
                wait_until(lambda: probe(base), timeout=60, interval=0.05, what="an answer")
                wholes.append(time.monotonic() - marks[-1])
                time.sleep(max(0.0, STEADY - wholes[-1]))
            load.stop.set()
            for future in futures:
                future.result()
            pool.shutdown()
            for mark, whole in zip(marks, wholes):
                answered = [o.ended for o in load.outcomes if o.started >= mark and o.kind == "answered"]
                recoveries.append((min(answered) - mark if answered else float("nan"), whole))
            connection = Redis.from_url((Path(tmp) / "redis" / "url").read_text())
            store = VoteStore(connection)
            missing = [
                (when, answer_id)
                for when, answer_id in load.votes
                if store.tally("web", answer_id).get(1, {}).get("up", 0) < 1
            ]
            crash_loop = "crash loop" in log.read()
        finally:
            stop_process(up, 60, signal.SIGINT)
    print_faults(console, load, marks, recoveries, missing, crash_loop)


def print_faults(console, load: Load, marks, recoveries, missing, crash_loop: bool) -> None:
    table = Table(
        "fault",
        "requests",
        "answered",
        "errored",
        "lost",
        "votes acknowledged",
        "acknowledged votes lost",
        "s to answer again",
        "s to whole",
        title=f"faults under load: tnaas up, 2 workers, {CLIENTS} clients retrying for {PATIENCE:.0f} s",
    )
    bounds = [float("-inf"), *marks, float("inf")]
    labels = ["none (steady load)"] + [f"{'SIGKILL' if s == signal.SIGKILL else 'SIGTERM'} {n}" for n, s in FAULTS]
    for i, label in enumerate(labels):
        low, high = bounds[i], bounds[i + 1]
        window = [o for o in load.outcomes if low <= o.started < high]
        votes = [v for v in load.votes if low <= v[0] < high]
        lost_votes = [v for v in missing if low <= v[0] < high]
        table.add_row(
            label,
            str(len(window)),
            str(sum(o.kind == "answered" for o in window)),
            str(sum(o.kind == "errored" for o in window)),
            str(sum(o.kind == "lost" for o in window)),
            str(len(votes)),
            str(len(lost_votes)),
            "-" if i == 0 else f"{recoveries[i - 1][0]:.1f}",
            "-" if i == 0 else f"{recoveries[i - 1][1]:.1f}",
        )
    table.add_row(
        "all",
        str(len(load.outcomes)),
        str(sum(o.kind == "answered" for o in load.outcomes)),
        str(sum(o.kind == "errored" for o in load.outcomes)),
        str(sum(o.kind == "lost" for o in load.outcomes)),
        str(len(load.votes)),
        str(len(missing)),
        f"max {max(r[0] for r in recoveries):.1f}",
        f"max {max(r[1] for r in recoveries):.1f}",
    )
    console.print(table)
    errors = sorted({o.detail for o in load.outcomes if o.kind == "errored"})
    console.print(f"errored statuses: {errors or 'none'}; the supervisor gave up: {'yes' if crash_loop else 'no'}")


def fsync_cost(console: Console, rounds: int = 2000, seconds: float = 5.0) -> None:
    """Vote latency with appendfsync everysec and always, interleaved; then throughput with 8 threads."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedRedis(Path(tmp) / "a", fsync="everysec") as everysec,
        EmbeddedRedis(Path(tmp) / "b", fsync="always") as always,
    ):
        stores = {"everysec": VoteStore(Redis.from_url(everysec.url)), "always": VoteStore(Redis.from_url(always.url))}
        latencies: dict[str, list[float]] = {name: [] for name in stores}
        for i in range(rounds):
            for name, store in list(stores.items())[:: 1 if i % 2 else -1]:  # ABBA
                start = time.perf_counter()
                store.vote("web", f"answer{i % 50}", 1 + i % 5, f"voter-{i}", 1)
                latencies[name].append(time.perf_counter() - start)
        throughput = {name: votes_per_second(store, seconds) for name, store in stores.items()}
    table = Table(
        "appendfsync", "votes", "median ms", "p90 ms", "p99 ms", "votes/s, 8 threads", title="cost of fsync per write"
    )
    for name, values in latencies.items():
        table.add_row(
            name,
            str(len(values)),
            f"{1000 * statistics.median(values):.3f}",
            f"{pct(values, 0.9):.3f}",
            f"{pct(values, 0.99):.3f}",
            f"{throughput[name]:.0f}",
        )
    console.print(table)
    paired = statistics.median(a - b for a, b in zip(latencies["always"], latencies["everysec"]))
    console.print(
        f"always vs everysec: median of paired differences {1000 * paired:+.3f} ms per vote "
        f"({100 * paired / statistics.median(latencies['everysec']):+.0f}%); throughput "
        f"{throughput['always'] / throughput['everysec']:.2f}x. A vote is 2-3 Redis writes."
    )


def votes_per_second(store: VoteStore, seconds: float, threads: int = 8) -> float:
    deadline = time.perf_counter() + seconds

    def voter(t: int) -> int:
        n = 0
        while time.perf_counter() < deadline:
            store.vote("web", f"tp{t}", 1 + n % 5, f"v{t}-{n}", 1)
            n += 1
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(voter, range(threads)))
    return total / (time.perf_counter() - start)


def main() -> None:
    console = Console(width=160)
    if "--fsync-cost" in sys.argv[1:]:
        fsync_cost(console)
        return
    run_faults(console)
    fsync_cost(console)


if __name__ == "__main__":
    main()
