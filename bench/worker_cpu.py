"""CPU a worker spends in one web batch job (``jobs.tasks.answer_web_batch``), by batch size.

Run: ``.venv/bin/python -m bench.worker_cpu`` after ``tnaas train``. The job function is called in
one process with the worker's context (the trained models, the reservoirs' ranking columns scored,
the registry snapshots, the bandit's counts) against a real embedded redis-server; registries on a
closed loopback port (as ``bench.api``'s stack), so no network. Per batch size: CPU ms per job and per
request (``time.process_time``: this process' threads), median over ``--rounds``. What it leaves
out: rq's own bookkeeping around the job (``bench.api`` measures the whole stack).
``--reload``: instead, what a worker spends loading a new model version (a retrained reranker):
a new registry's preload and warm-up, from scratch and taking over the previous one's unchanged
entries (``ModelRegistry.reusing``), CPU seconds, median over ``--rounds``.
``--baseline DIR`` (repeatable): the same measurement on another checkout's code (``git archive
<sha> | tar -x -C DIR``), the checkouts taking turns round by round, so all see the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def measure(batches: list[int], jobs: int) -> dict[str, float]:
    """In this process, on the code importable here: batch size -> CPU seconds per job."""
    from redis import Redis

    from availability.checker import build_checker
    from core.settings import Settings
    from jobs import tasks
    from jobs.contracts import GenerateRequest, WebBatch, WebItem
    from jobs.pipeline import warm
    from jobs.worker import ARMS_FRESH, WorkerContext
    from models.registry import ModelRegistry
    from store.arms import RecentArms
    from testkit.processes import local_registries
    from tnaas.redis_server import EmbeddedRedis

    os.environ.update(local_registries())
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        connection = Redis.from_url(server.url)
        settings = Settings(_env_file=None, redis_url=server.url)
        models = ModelRegistry(settings.artifacts_dir)
        context = WorkerContext(
            models,
            models.preload(),
            connection,
            settings,
            build_checker(settings, connection=connection),
            RecentArms(connection, ARMS_FRESH),
        )
        warm(models, settings)
        job = getattr(tasks.answer_web_batch, "__wrapped__", tasks.answer_web_batch)

        def payload(size: int) -> dict:
            items = [
                WebItem(request=GenerateRequest(corpus="pokemon", n=5), client="bench", answer_id=uuid.uuid4().hex)
                for _ in range(size)
            ]
            return WebBatch(items=items).model_dump(mode="json")

        out = {}
        for size in batches:
            for _ in range(20):  # warm-up
                job(payload(size), context=context)
            payloads = [payload(size) for _ in range(jobs)]
            start = time.process_time()
            for p in payloads:
                job(p, context=context)
            out[str(size)] = (time.process_time() - start) / jobs
        return out


def reload_seconds(rounds: int) -> dict[str, float]:
    """CPU seconds of a new version's preload + warm-up: from scratch, and taking over the last registry."""
    from core.settings import Settings
    from jobs.pipeline import warm
    from models.registry import ModelRegistry

    settings = Settings(_env_file=None)
    previous = ModelRegistry(settings.artifacts_dir)
    previous.preload()
    warm(previous, settings)
    seen: dict[str, list[float]] = {"from scratch": [], "taking over the unchanged": []}
    for _ in range(rounds):
        for label, before in (("from scratch", None), ("taking over the unchanged", previous)):
            start = time.process_time()
            registry = ModelRegistry(settings.artifacts_dir).reusing(before)
            registry.preload()
            warm(registry, settings)
            seen[label].append(time.process_time() - start)
    return {label: statistics.median(v) for label, v in seen.items()}


def run_child(cwd: str | None, batches: list[int], jobs: int) -> dict[str, float]:
    """``measure`` in a fresh process on ``cwd``'s code (this checkout's when None): this file run by
    path, so a baseline without it measures its own code."""
    from bench.common import artifacts_env

    here = str(Path(__file__).resolve().parent.parent)
    env = os.environ | artifacts_env(cwd) | {"PYTHONPATH": cwd or here}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", ",".join(map(str, batches)), str(jobs)],
        cwd=cwd or here,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        sys.path[0] = os.environ["PYTHONPATH"]  # the checkout's code, not this file's directory
        print(json.dumps(measure([int(b) for b in sys.argv[2].split(",")], int(sys.argv[3]))))
        return
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", default="1,4,16", help="batch sizes (requests per job)")
    parser.add_argument("--jobs", type=int, default=300, help="jobs timed per batch size and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", action="append", default=[], help="another checkout's directory")
    parser.add_argument("--reload", action="store_true", help="a new model version's loading, not a job")
    args = parser.parse_args()
    if args.reload:
        for label, seconds in reload_seconds(args.rounds).items():
            Console().print(f"a new version's registry, preload + warm-up, {label}: {seconds:.2f} s CPU")
        return
    batches = [int(b) for b in args.batch.split(",")]
    trees = {Path(b).name: b for b in args.baseline} | {"this checkout": None}
    seen: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, cwd in trees.items():
            seen[name].append(run_child(cwd, batches, args.jobs))
    table = Table(
        "code",
        *(f"batch of {b}: ms per job / per request" for b in batches),
        title=f"CPU of one web batch job in the worker (pokemon, n=5), median over {args.rounds} rounds",
    )
    for name, runs in seen.items():
        cells = []
        for b in batches:
            per_job = 1000 * statistics.median(r[str(b)] for r in runs)
            cells.append(f"{per_job:.2f} / {per_job / b:.3f}")
        table.add_row(name, *cells)
    Console().print(table)


if __name__ == "__main__":
    main()
