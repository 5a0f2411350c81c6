"""How fast the web process starts: what ``import bot.web`` costs, and the CPU of building the app.

A restart of the web process (a deploy, a crash) should answer within a second, so the web imports
the surfaces, the store and the job contracts, never the models, the worker or scikit-learn/scipy.
Each figure is the median of ``--runs`` fresh interpreters (Slack and Redis settings cleared: the
app is built, nothing is connected):

- ``import bot.web``: the import time ``python -X importtime`` reports for it (wall clock);
- ``import bot.web`` and ``create_app()``: user + system CPU seconds of the whole process;
- ``tnaas web`` before uvicorn: the same with the command line imported first, as ``tnaas web`` runs it;
- for scale, on the same machine at the same time: the interpreter alone, and the libraries the web
  cannot start without (FastAPI, Bolt, rq, redis-py, prometheus-client, pydantic-settings).

It also lists the heavy packages the app pulled in (there should be none).

Run: ``.venv/bin/python -m bench.web_start`` (``--checkout DIR``, repeatable: measure other checkouts,
e.g. one made with ``git archive``, each from its own directory, their runs alternating).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "models",
    "sklearn",
    "scipy",
    "torch",
    "jobs.worker",
    "jobs.pipeline",
    "jobs.tasks",
    "bot.slack.tasks",
    "bot.slack.replies",
)
BUILD = "from bot.web import create_app; create_app()"
LOADED = (
    "import sys; "
    f"print(' '.join(sorted({{m for m in sys.modules for h in {HEAVY!r} if m == h or m.startswith(h + '.')}})))"
)
LIBRARIES = "import fastapi, slack_bolt, rq, redis.asyncio, prometheus_client, pydantic_settings, orjson"
CASES = {
    "python alone (CPU s)": "pass",
    "the web's libraries alone (CPU s)": LIBRARIES,
    "import bot.web (CPU s)": "import bot.web",
    "import bot.web + create_app() (CPU s)": BUILD,
    "tnaas web before uvicorn: CLI + create_app() (CPU s)": f"import tnaas.cli; {BUILD}",
}


def clean_env() -> dict[str, str]:
    """No Slack (Bolt would call auth.test) and no stack settings of the caller's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TNAAS_", "SLACK_", "REDIS_URL"))}


def cpu_of(code: str, cwd: Path) -> float:
    """User + system CPU seconds of a fresh interpreter running ``code``."""
    child = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=clean_env(), stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{code!r} failed in {cwd}")
    return usage.ru_utime + usage.ru_stime


def import_time(module: str, cwd: Path) -> float:
    """Seconds ``-X importtime`` gives ``module``, its own imports included."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in reversed(out.stderr.splitlines()) if re.search(rf"\|\s*{re.escape(module)}$", ln))
    return int(line.split("|")[1]) / 1e6


def heavy_modules(cwd: Path) -> str:
    """The heavy packages ``create_app()`` pulled in, by what they are."""
    loaded = subprocess.run(
        [sys.executable, "-c", f"{BUILD}; {LOADED}"], cwd=cwd, env=clean_env(), capture_output=True, text=True
    ).stdout.split()
    groups = {h: [m for m in loaded if m == h or m.startswith(h + ".")] for h in HEAVY}
    return ", ".join(f"{h} ({len(found)} modules)" for h, found in groups.items() if found) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--checkout",
        type=Path,
        action="append",
        help="a checkout to measure (its directory; repeat to compare, e.g. a baseline made with `git archive`: "
        "their runs alternate, so a busy moment of the machine weighs on each alike); default this one",
    )
    args = parser.parse_args()
    checkouts = [c.resolve() for c in args.checkout or [Path.cwd()]]
    figures: dict[Path, dict[str, list[float]]] = {c: {} for c in checkouts}
    for _ in range(args.runs):
        for cwd in checkouts:
            figures[cwd].setdefault("importtime", []).append(import_time("bot.web", cwd))
            for label, code in CASES.items():
                figures[cwd].setdefault(label, []).append(cpu_of(code, cwd))
    for cwd in checkouts:
        print(f"web start of {cwd} (median of {args.runs} runs)")
        print(f"  python -X importtime -c 'import bot.web': {statistics.median(figures[cwd]['importtime']):.3f} s")
        for label in CASES:
            print(f"  {label}: {statistics.median(figures[cwd][label]):.3f}")
        print(f"  heavy modules after create_app(): {heavy_modules(cwd)}")


if __name__ == "__main__":
    main()
