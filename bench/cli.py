"""How quick the command line is, and how long `tnaas up` takes to stop.

Each figure is the median of ``--runs`` fresh processes, wall clock and the process' CPU (user + system,
which a loaded machine inflates less), beside the interpreter alone for scale:

- ``tnaas --help``: typer and the limits, nothing of the models, the store or the web;
- ``tnaas generate pokemon``: the pipeline, the one model the answer needs (mapped), no stack running;
- stack stop: seconds from SIGTERM to `tnaas up`'s exit, on a stack that has said it is ready
  (``--stop-runs``, 0 to skip: each run starts a stack).

Targets: ``--help`` <= 0.3 s, ``generate pokemon`` <= 1 s, stop <= 3 s.

Run: ``.venv/bin/python -m bench.cli`` (trained models in TNAAS_ARTIFACTS_DIR, default ./artifacts;
``--checkout DIR``, repeatable: the same for other checkouts, e.g. one made with ``git archive``, their
runs alternating).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from testkit.processes import free_port_run, python_of, tnaas_env, wait_until

COMMANDS = {
    "python alone": ["-c", "pass"],
    "tnaas --help": ["-m", "tnaas", "--help"],
    "tnaas generate pokemon": ["-m", "tnaas", "generate", "pokemon"],
}


def run_once(args: list[str], env: dict, cwd: str | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([python_of(cwd), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd or '.'}:\n{out.stdout}{out.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stop_once(env: dict, cwd: str | None) -> float:
    """Seconds from SIGTERM to the exit of a `tnaas up` whose /healthz passed."""
    port = free_port_run(1 + int(env.get("TNAAS_WORKERS", "2")))
    with tempfile.TemporaryDirectory(prefix="tnaas-") as data:
        up = subprocess.Popen(
            [python_of(cwd), "-m", "tnaas", "up"],
            env=env | {"TNAAS_PORT": str(port), "TNAAS_DATA_DIR": data},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        said: list[str] = []
        threading.Thread(target=lambda: said.extend(up.stdout), daemon=True).start()
        try:
            wait_until(lambda: _healthy(port), timeout=180, what="/healthz")
            start = time.perf_counter()
            up.send_signal(signal.SIGTERM)
            up.wait(60)
            return time.perf_counter() - start
        finally:
            if up.poll() is None:
                up.kill()
                up.wait()


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command (0: none)")
    parser.add_argument("--stop-runs", type=int, default=10, help="stacks started and stopped (0: none)")
    parser.add_argument("--checkout", action="append", default=[], help="another checkout to measure (repeatable)")
    args = parser.parse_args()
    artifacts = Path(os.environ.get("TNAAS_ARTIFACTS_DIR", "artifacts")).resolve()
    env = tnaas_env(artifacts, TNAAS_WORKERS=2) | {"COLUMNS": "80"}
    env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}
    checkouts = [None, *(str(Path(c).resolve()) for c in args.checkout)]
    print(f"{args.runs} runs each, medians; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, command in COMMANDS.items() if args.runs else ():
        samples: dict[str | None, list[tuple[float, float]]] = {c: [] for c in checkouts}
        for _ in range(args.runs):
            for checkout in checkouts:  # alternating: both see the same load
                samples[checkout].append(run_once(command, env, checkout))
        for checkout in checkouts:
            walls, cpus = zip(*samples[checkout])
            print(
                f"{name:<24} {checkout or 'this checkout':<30} wall {statistics.median(walls):.2f} s  "
                f"CPU {statistics.median(cpus):.2f} s"
            )
    if args.stop_runs:
        stops: dict[str | None, list[float]] = {c: [] for c in checkouts}
        for _ in range(args.stop_runs):
            for checkout in checkouts:
                stops[checkout].append(stop_once(env, checkout))
        for checkout in checkouts:
            values = stops[checkout]
            print(
                f"{'stack stop (SIGTERM)':<24} {checkout or 'this checkout':<30} median {statistics.median(values):.2f} s"
                f"  max {max(values):.2f} s"
            )


if __name__ == "__main__":
    sys.exit(main())
