"""Memory of a whole stack, per process, and how soon a started worker answers.

Run: ``.venv/bin/python -m bench.memory [--artifacts DIR] [--workers 2]``. Without ``--artifacts``
every corpus is trained first (``tnaas train`` into a temporary directory: ~20 minutes on 2 cores).
Then ``tnaas up`` runs the stack as a newcomer runs it (embedded redis-server, the web process,
``--workers`` workers, the upkeep scheduler) on 127.0.0.1, registries on a closed loopback port, rate
limits lifted, and every kind of request is sent for every corpus and every trained model (generate,
complete, like; detect of names and of sentences; check), each ``--repeat`` times, ``--workers`` x 2
at once, so each worker most likely touched every model. Completions with ``bayes1`` (which import
PyTorch into the worker that answers one) are left out unless ``--bayes``. Then, for every process of
the stack (its helpers, such as the workers' fork server, included) and ``tnaas up`` itself, from
``/proc/PID/smaps_rollup``: PSS (shared pages split between the processes that map them),
Private_Dirty (what this process alone holds: what one more worker costs) and RSS; and the stack's PSS.

How soon a worker answers: from a worker process' start (/proc/PID/stat) to the end of the first job
it finished (rq's record of the job), with plain generate jobs always waiting in the queue; at the
stack's start, and after each worker in turn is killed (SIGKILL) and ``tnaas up`` starts another.

``--where --artifacts DIR``: instead, where a worker's private memory goes, in this one process.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from rich.console import Console
from rich.table import Table
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FinishedJobRegistry

from core.settings import Settings
from corpora import load_corpus
from jobs.contracts import GenerateRequest
from testkit.processes import SupervisorLog, free_port_run, http, local_registries, stop_process, wait_until

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "der schnelle braune Fuchs springt über den faulen Hund",
    "le renard brun rapide saute par-dessus le chien paresseux",
    "быстрая коричневая лиса прыгает через ленивую собаку",
    "素早い茶色の狐がのろまな犬を飛び越える",
]
ROLLUP = ("Pss", "Private_Dirty", "Rss")


def train(artifacts: Path) -> None:
    """Every corpus and model, the judge and the language detector, as `tnaas train` does."""
    env = os.environ | {"TNAAS_ARTIFACTS_DIR": str(artifacts), "TNAAS_DATA_DIR": f"{artifacts}-data"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "-m", "tnaas", "train", "--no-reranker"], env=env, check=True)


def rollup(pid: int) -> dict[str, float]:
    """PSS, Private_Dirty and RSS of one process, MB."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if (m := re.match(r"(\w+):\s+(\d+) kB", line)) and m[1] in ROLLUP:
            out[m[1]] = int(m[2]) / 1024
    return out


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def helper_name(pid: int) -> str:
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    for part, name in (("forkserver", "fork server"), ("resource_tracker", "resource tracker")):
        if part in command:
            return name
    return command[:30]


def started_at(pid: int) -> float:
    """When a process started, seconds since the epoch (to the kernel's clock tick): its start after
    boot (/proc/PID/stat) against the time since boot now (/proc/uptime; /proc/stat's boot time is in
    whole seconds)."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")


def ask(base: str, path: str, body: dict, timeout: float = 60) -> dict:
    """One API request, followed to its answer (a worker's "no such names" is an answer too)."""
    status, _, answer = http("POST", f"{base}/api/v1/{path}", body)
    deadline = time.monotonic() + timeout
    while status in (200, 202) and answer.get("status") == "queued" and time.monotonic() < deadline:
        status, _, answer = http("GET", f"{base}{answer['poll']}")
    if status == 400 and isinstance(answer, dict) and "error" in answer:
        return answer
    if status not in (200, 202) or answer.get("status") != "done":
        raise RuntimeError(f"{path} {body}: {status} {answer}")
    return answer


def requests_for(corpus: str, models: list[str], bayes: bool) -> list[tuple[str, dict]]:
    """Every kind of request for one corpus and each of its models."""
    names = load_corpus(corpus)
    name = max(names[:50], key=len)
    pattern = "".join(ch if i % 2 == 0 else "*" for i, ch in enumerate(name))
    out = [("generate", {"corpus": corpus, "n": 5}), ("detect", {"text": name}), ("check", {"names": [name]})]
    for model in models:
        out += [
            ("generate", {"corpus": corpus, "model": model, "n": 5}),
            ("like", {"name": name, "corpus": corpus, "model": model, "n": 5}),
        ]
        if bayes or not model.startswith("bayes"):
            out.append(("complete", {"pattern": pattern, "corpus": corpus, "model": model, "n": 5}))
    return out


def touch_every_model(base: str, parallel: int, repeat: int, bayes: bool) -> int:
    """Every kind of request for every corpus and model, ``repeat`` times; how many were answered."""
    status, _, corpora = http("GET", f"{base}/api/v1/corpora")
    assert status == 200, corpora
    work = [r for c in corpora for r in requests_for(c["name"], c["models"], bayes)]
    work += [("detect", {"text": s}) for s in SENTENCES]
    with ThreadPoolExecutor(parallel) as pool:
        return len(list(pool.map(lambda r: ask(base, *r), work * repeat)))


class Backlog:
    """Plain generate jobs (``jobs.tasks.answer_request``, by dotted path) kept waiting in the queue, so a
    worker that starts has work the moment it can take it."""

    def __init__(self, connection: Redis, queue: str, waiting: int = 20):
        self.queue, self.waiting, self.stop = Queue(queue, connection=connection), waiting, threading.Event()
        self.thread = threading.Thread(target=self._fill, daemon=True)

    def _fill(self) -> None:
        payload = GenerateRequest(corpus="pokemon", n=5).model_dump()
        while not self.stop.wait(0.005):
            for _ in range(self.waiting - self.queue.count):
                self.queue.enqueue("jobs.tasks.answer_request", payload, result_ttl=600)

    def __enter__(self) -> Backlog:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)


def first_answer(connection: Redis, queue: str, pid: int, timeout: float = 60) -> float:
    """Seconds from the start of worker ``pid`` to the end of the first job it finished."""

    def ended() -> datetime | None:
        names = {w.name for w in Worker.all(connection=connection) if w.pid == pid}
        if not names:
            return None
        ids = FinishedJobRegistry(queue, connection=connection).get_job_ids()
        jobs = [j for j in Job.fetch_many(ids, connection=connection) if j is not None and j.worker_name in names]
        return min((j.ended_at for j in jobs if j.ended_at), default=None)

    at = wait_until(ended, timeout=timeout, interval=0.1, what=f"a job finished by worker {pid}")
    return at.replace(tzinfo=at.tzinfo or UTC).timestamp() - started_at(pid)


@contextmanager
def stack(artifacts: Path, workers: int, data: Path):
    """`tnaas up` with ``workers`` workers; yields (base URL, its log, the Redis URL, its pid); stops it by pid."""
    port = free_port_run(workers + 1)
    env = (
        local_registries()
        | os.environ
        | {
            "TNAAS_ARTIFACTS_DIR": str(artifacts),
            "TNAAS_DATA_DIR": str(data),
            "TNAAS_PORT": str(port),
            "TNAAS_WORKERS": str(workers),
            "TNAAS_USER_RATE": "1000000",
            "TNAAS_TEAM_RATE": "1000000",
            "TNAAS_MAX_QUEUE": "100000",
            "TNAAS_TRAIN_ON_UP": "false",  # the models given, nothing more
        }
    )
    env.pop("REDIS_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = SupervisorLog(up)
    try:
        url_file = data / "redis" / "url"
        wait_until(lambda: url_file.exists() and len(log.pids()) >= workers + 3, timeout=60, what="the stack")
        yield f"http://127.0.0.1:{port}", log, url_file.read_text().strip(), up.pid
    finally:
        stop_process(up, 60, signal.SIGINT)


def measure(artifacts: Path, workers: int, repeat: int, bayes: bool) -> tuple[dict, dict]:
    """(per process: PSS, Private_Dirty, RSS in MB; per worker: seconds from start to first answer)."""
    with tempfile.TemporaryDirectory(prefix="tnaas-mem-") as data, stack(artifacts, workers, Path(data)) as running:
        base, log, url, up_pid = running
        connection = Redis.from_url(url)
        queue = Settings(_env_file=None).queue
        with Backlog(connection, queue):  # jobs wait in the queue before the first worker starts
            at_start = {
                f"worker.{i + 1}": first_answer(connection, queue, log.pids()[f"worker.{i + 1}"], 180)
                for i in range(workers)
            }
        wait_until(lambda: _answering(base), timeout=120, what="the web process")
        answered = touch_every_model(base, 2 * workers, repeat, bayes)
        time.sleep(2)  # let warm-up threads and the scheduler's first round settle
        named = {pid: name for name, pid in log.pids().items()} | {up_pid: "tnaas up"}
        for pid in descendants(up_pid) - named.keys():  # helpers of the stack's own (a fork server)
            named[pid] = helper_name(pid)
        memory = {name: rollup(pid) for pid, name in named.items()}
        restarted = {}
        with Backlog(connection, queue):
            for i in range(workers):
                name = f"worker.{i + 1}"
                restarted[name] = first_answer(connection, queue, log.kill_and_wait(name))
        return memory | {"_answered": answered}, {"at the stack's start": at_start, "started again": restarted}


def _answering(base: str) -> bool:
    try:
        return http("GET", f"{base}/api/v1/corpora")[0] == 200
    except OSError:
        return False


def where(artifacts: Path, top: int = 12) -> None:
    """In this process, as a worker holds them: Private_Dirty once the worker's code is imported and
    once every model is loaded and warmed, and what the Python allocations of loading are, by the file
    that made them (tracemalloc; arrays mapped from a file are not allocations and do not show)."""
    import gc
    import tracemalloc

    from jobs import pipeline, worker  # noqa: F401  -- what a worker imports
    from models.registry import ModelRegistry

    def private_dirty() -> float:
        return rollup(os.getpid())["Private_Dirty"]

    imported = private_dirty()
    tracemalloc.start()
    settings = Settings(_env_file=None, artifacts_dir=artifacts)
    registry = ModelRegistry(artifacts)
    registry.preload()
    pipeline.warm(registry, settings)
    gc.collect()
    allocated = tracemalloc.take_snapshot().statistics("filename")
    tracemalloc.stop()
    print(f"Private_Dirty once the worker's code is imported: {imported:.0f} MB")
    print(f"... once every model is loaded and the default reservoirs warmed: {private_dirty():.0f} MB (traced)")
    print(f"Python allocations of loading: {sum(s.size for s in allocated) / 2**20:.1f} MB, by file:")
    for stat in allocated[:top]:
        print(f"  {stat.size / 2**20:7.1f} MB  {stat.traceback[0].filename}")


def report(console: Console, memory: dict, ready: dict) -> None:
    answered = memory.pop("_answered")
    table = Table("process", "PSS MB", "Private_Dirty MB", "RSS MB", title=f"memory after {answered} requests")
    order = sorted(
        memory,
        key=lambda n: (n != "tnaas up", n != "redis", n != "web", not n.startswith("worker"), n != "scheduler", n),
    )
    for name in order:
        m = memory[name]
        table.add_row(name, f"{m['Pss']:.0f}", f"{m['Private_Dirty']:.0f}", f"{m['Rss']:.0f}")
    stack_pss = sum(m["Pss"] for n, m in memory.items() if n != "tnaas up")
    table.add_row("stack (every process but `tnaas up`)", f"{stack_pss:.0f}", "", "", style="bold")
    table.add_row("stack and `tnaas up` itself", f"{stack_pss + memory['tnaas up']['Pss']:.0f}", "", "")
    console.print(table)
    times = Table("worker", *ready, title="seconds from a worker's start to its first answer")
    for name in sorted(next(iter(ready.values()))):
        times.add_row(name, *(f"{ready[when][name]:.2f}" for when in ready))
    console.print(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=Path, help="trained artifacts to use (default: train into a temp dir)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="times each request is sent")
    parser.add_argument("--bayes", action="store_true", help="also complete with bayes1 (PyTorch in the worker)")
    parser.add_argument("--where", action="store_true", help="only where a worker's private memory goes (--artifacts)")
    args = parser.parse_args()
    if args.where:
        where(args.artifacts.resolve())
        return
    console = Console(width=120)
    with ExitStack() as cleanup:
        artifacts = args.artifacts
        if artifacts is None:
            artifacts = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="tnaas-art-"))) / "artifacts"
            train(artifacts)
        memory, ready = measure(artifacts.resolve(), args.workers, args.repeat, args.bayes)
    report(console, memory, ready)


if __name__ == "__main__":
    main()
