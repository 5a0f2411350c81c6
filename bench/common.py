"""Shared by the benchmarks: timing helpers, the CPU each process of a stack spent."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path


def timed(fn, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def pct(samples: list[float], q: float) -> float:
    """The q-quantile of ``samples`` (seconds), in milliseconds."""
    return 1000 * sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


def p99_ms(samples: list[float]) -> float:
    return 1000 * sorted(samples)[max(0, int(0.99 * len(samples)) - 1)]


def artifacts_env(checkout: str | None = None) -> dict[str, str]:
    """This checkout's artifacts by absolute path, so a baseline checkout (``--baseline``) loads the
    same models (it has none of its own: `git archive` leaves them out) -- unless ``tnaas train`` was run
    in it: a checkout from before a change of the artifacts' format cannot read today's."""
    from core.settings import get_settings

    own = Path(checkout, "artifacts") if checkout else None
    if own is not None and own.is_dir():
        return {"TNAAS_ARTIFACTS_DIR": str(own.resolve())}
    return {"TNAAS_ARTIFACTS_DIR": str(Path(get_settings().artifacts_dir).resolve())}


def children() -> set[int]:
    """Pids of this process' children (the stacks' redis-server, workers and web)."""
    me = str(os.getpid())
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            out.add(int(stat.parent.name))
    return out


def role(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return "redis" if "redis-server" in cmd else "web" if " web" in cmd else "workers" if " worker" in cmd else "other"


def cpu_seconds(pids: set[int]) -> dict[str, float]:
    """User + system CPU seconds so far, by role (/proc/<pid>/stat), for processes still running."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[role(pid)] = out.get(role(pid), 0.0) + (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            continue
    return out
