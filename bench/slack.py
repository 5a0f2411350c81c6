"""Slack path on the real stack: signed slash command -> ack, and -> threaded reply posted.

Run: ``.venv/bin/python -m bench.slack`` after ``tnaas train``. Starts an embedded redis-server, a
local Slack Web API stand-in, `tnaas web` and 2 workers on 127.0.0.1 (stopped by pid at the end).
Sequential: 200 commands one after another. Sustained: commands sent at a fixed rate for 10 s each,
rate raised until the reply p99 degrades; all loops are bounded.
"""

from __future__ import annotations

import statistics
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from rich.console import Console
from rich.table import Table

from bench.common import pct
from testkit.processes import running_stack, wait_until
from testkit.slack_standin import SlackStandIn, signed_post

SECRET = "bench-signing-secret"


def main() -> None:
    with (
        SlackStandIn() as slack,
        running_stack(
            {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "TNAAS_SLACK_API_URL": slack.url}
        ) as base,
    ):
        url = f"{base}/slack/events"

        def command(i: int) -> tuple[str, float, float]:
            """Send one signed slash command; (user, sent at, ack seconds)."""
            user = f"U{i}"
            form = {"command": "/techname", "text": "pokemon 5", "user_id": user, "channel_id": "C1", "team_id": "T1"}
            start = time.perf_counter()
            status, _ = signed_post(
                url, urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded", SECRET
            )
            assert status == 200
            return user, start, time.perf_counter() - start

        def reply_times(sent: list[tuple[str, float, float]]) -> list[float]:
            """Seconds from sending each command to its candidates being posted in the thread."""

            def all_replied():
                with slack.lock:
                    calls = list(zip(slack.calls, slack.times))
                parent = {
                    p["_ts"]: p["text"].split(">")[0][2:]
                    for (m, p), _ in calls
                    if m == "chat.postMessage" and "thread_ts" not in p
                }
                done = {
                    parent[p["thread_ts"]]: t
                    for (m, p), t in calls
                    if m == "chat.postMessage" and p.get("thread_ts") in parent
                }
                return done if all(user in done for user, _, _ in sent) else None

            done = wait_until(all_replied, timeout=120, interval=0.2, what="every reply")
            return [done[user] - start for user, start, _ in sent]

        def row(label: str, sent) -> None:
            acks, replies = [a for _, _, a in sent], reply_times(sent)
            table.add_row(
                label,
                f"{1000 * statistics.median(acks):.1f}",
                f"{pct(acks, 0.99):.1f}",
                f"{1000 * statistics.median(replies):.1f}",
                f"{pct(replies, 0.99):.1f}",
            )

        table = Table("load", "ack median ms", "ack p99 ms", "reply median ms", "reply p99 ms")
        reply_times([command(-i - 1) for i in range(10)])  # warm up
        sent = []
        for i in range(200):
            sent.append(command(i))
            reply_times(sent[-1:])  # one at a time: wait for the reply before the next command
        row("sequential (200)", sent)
        base = 10_000
        for rate in (5, 10, 20, 40, 80):
            n = rate * 10
            with ThreadPoolExecutor(max_workers=32) as pool:
                futures, start = [], time.perf_counter()
                for i in range(n):
                    time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                    futures.append(pool.submit(command, base + i))
                sent = [f.result() for f in futures]
            base += n
            row(f"{rate}/s for 10 s", sent)
        Console(width=140).print(table)


if __name__ == "__main__":
    main()
