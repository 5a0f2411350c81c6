"""How long `make run` takes, from a checkout with no trained models, to answer its first request.

Each run starts `make run` in a checkout with fresh artifacts and data directories (the virtual
environment already installed: this one's), asks the API for names from the default corpus until it
answers with names, and records:

- first answer: seconds from `make run` to the first 200 with names (``POST /api/v1/generate``), and the
  CPU seconds the stack's processes had spent by then (a figure other load on the machine leaves alone);
- every corpus: seconds until each corpus' first request (its default model) was answered with names;
- trained: seconds until /healthz says nothing is still training (``--all``; the baseline trains
  everything before it serves, so there this equals the first answer).

Then the stack is stopped by its pid (SIGTERM). Figures are the median of ``--runs`` runs.

Run: ``.venv/bin/python -m bench.first_answer`` (``--checkout DIR``: another checkout's code, e.g. one
made with ``git archive``, run with this virtual environment; ``--runs N``; ``--all``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from corpora import corpus_names
from testkit.processes import free_port_run, local_registries

HERE = Path(__file__).resolve().parents[1]
TIMEOUT = 1200.0  # seconds one run may take before it is given up (``--timeout``)


def post(url: str, body: dict) -> tuple[int, dict | None]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, None
    except (OSError, ValueError):
        return 0, None


def get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            return json.loads(err.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def session_cpu(session: int) -> float:
    """CPU seconds (user + system) of every process of ``session``, with the children they have reaped:
    what the stack spent, whatever else the machine runs."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # the session id
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return round(total / ticks, 1)


def one_run(checkout: Path, wait_all: bool, timeout: float = TIMEOUT) -> dict:
    """One fresh `make run`; the seconds of each milestone (None: not reached within TIMEOUT)."""
    venv = Path(sys.prefix)
    with tempfile.TemporaryDirectory(prefix="tnaas-first-") as tmp:
        port = free_port_run(8)
        env = (
            local_registries()
            | {k: v for k, v in os.environ.items() if not k.startswith(("TNAAS_", "SLACK_", "REDIS_URL"))}
            | {
                "TNAAS_ARTIFACTS_DIR": f"{tmp}/artifacts",
                "TNAAS_DATA_DIR": f"{tmp}/data",
                "TNAAS_PORT": str(port),
                "TNAAS_LOG_FORMAT": "text",
                "PYTHONPATH": str(checkout),  # its code, before this environment's editable install
            }
        )
        base = f"http://127.0.0.1:{port}"
        start = time.monotonic()
        make = subprocess.Popen(
            ["make", "-s", "-C", str(checkout), "run", f"VENV={venv}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as one, by its id
        )
        figures: dict = {"first answer": None, "CPU s by then": None, "every corpus": None, "trained": None}
        answered: set[str] = set()
        try:
            while time.monotonic() - start < timeout and make.poll() is None:
                for corpus in [c for c in corpus_names() if c not in answered]:
                    status, body = post(f"{base}/api/v1/generate", {"corpus": corpus, "n": 5})
                    while status == 202 and body and time.monotonic() - start < timeout:  # queued: poll it
                        time.sleep(0.2)
                        body = get(f"{base}{body['poll']}")
                        status = 200 if body and body.get("status") == "done" else 202
                    if status == 200 and body and (body.get("names") or {}).get("candidates"):
                        answered.add(corpus)
                        if figures["first answer"] is None:
                            figures["first answer"] = round(time.monotonic() - start, 1)
                            figures["CPU s by then"] = session_cpu(make.pid)
                    if status == 0:
                        break  # nothing listens yet
                if len(answered) == len(corpus_names()) and figures["every corpus"] is None:
                    figures["every corpus"] = round(time.monotonic() - start, 1)
                if figures["every corpus"] is not None:
                    health = get(f"{base}/healthz") or {}
                    if not wait_all or not (health.get("training") or {}).get("training"):
                        figures["trained"] = round(time.monotonic() - start, 1) if wait_all else None
                        break
                time.sleep(0.2)
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGTERM)
                try:
                    make.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(make.pid, signal.SIGKILL)
                    make.wait()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=HERE, help="the checkout whose `make run` is measured")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--all", action="store_true", help="also wait until everything is trained")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds a run may take")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        runs.append(one_run(args.checkout.resolve(), args.all, args.timeout))
        print(f"run {i + 1}: {json.dumps(runs[-1])}", flush=True)
    print(
        f"`make run` in {args.checkout} with no artifacts, {os.cpu_count()} cores (load average "
        f"{os.getloadavg()[1]:.1f} over the last 5 min), median of {len(runs)} runs:"
    )
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            print(f"  {key:<14} {statistics.median(values):7.1f} s  (runs: {', '.join(map(str, values))})")


if __name__ == "__main__":
    main()
