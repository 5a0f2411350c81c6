"""Slack path on the real stack: signed slash command -> ack and -> threaded reply; then what one
workspace costs in Slack API calls and how many commands a minute it can sustain within Slack's limits.

Run: ``.venv/bin/python -m bench.slack`` after ``tnaas train`` (about 5 minutes). Starts an embedded
redis-server, a local stand-in for the Slack Web API, `tnaas web` and 2 workers on 127.0.0.1 (stopped
by pid at the end); all loops are bounded.

1. Latency: the stand-in's rate limits are off (its "minute" is a millisecond). Sequential: 200
   commands one after another. Sustained: commands at a fixed rate for 10 s each, rate raised until
   the reply p99 degrades.
2. Rate limits: the stand-in enforces Slack's documented limits in real time (``reactions.add`` Tier 3,
   50 a minute per workspace; ``chat.postMessage`` one a second per channel, short bursts). Commands
   (``pokemon 5``) are sent at a fixed rate for 30 s by a team still learning the keycap convention
   (its replies are seeded, within the budget) and by one that has learned it (buttons only). Printed:
   Slack calls per command by method, 429s Slack answered, commands answered.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from rich.console import Console
from rich.table import Table

from bench.common import pct
from testkit.processes import running_stack, wait_until
from testkit.slack_standin import SlackStandIn, signed_post, slash_form
from tnaas.limits import KEYCAP_VOTES_TO_LEARN

SECRET = "bench-signing-secret"
FORM = "application/x-www-form-urlencoded"
console = Console(width=150)


def stack_env(slack: SlackStandIn) -> dict:
    return {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "TNAAS_SLACK_API_URL": slack.url}


def latency() -> None:
    with SlackStandIn(minute=1e-3) as slack, running_stack(stack_env(slack)) as base:
        url = f"{base}/slack/events"

        def command(i: int) -> tuple[str, float, float]:
            """Send one signed slash command; (user, sent at, ack seconds)."""
            user = f"U{i}"
            form = {"command": "/techname", "text": "pokemon 5", "user_id": user, "channel_id": "C1", "team_id": "T1"}
            start = time.perf_counter()
            status, _ = signed_post(url, urllib.parse.urlencode(form).encode(), FORM, SECRET)
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
                    if m == "chat.postMessage" and "thread_ts" not in p and "_ts" in p
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

        table = Table("load", "ack median ms", "ack p99 ms", "reply median ms", "reply p99 ms", title="latency")
        reply_times([command(-i - 1) for i in range(10)])  # warm up
        sent = []
        for i in range(200):
            sent.append(command(i))
            reply_times(sent[-1:])  # one at a time: wait for the reply before the next command
        row("sequential (200)", sent)
        start_id = 10_000
        for rate in (5, 10, 20, 40, 80):
            n = rate * 10
            with ThreadPoolExecutor(max_workers=32) as pool:
                futures, start = [], time.perf_counter()
                for i in range(n):
                    time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                    futures.append(pool.submit(command, start_id + i))
                sent = [f.result() for f in futures]
            start_id += n
            row(f"{rate}/s for 10 s", sent)
        console.print(table)


def within_limits(seconds: float = 30.0) -> None:
    table = Table(
        "team",
        "channels",
        "commands/min",
        "sent",
        "answered",
        "postMessage/cmd",
        "reactions.add/cmd",
        "429s",
        title=f"one workspace within Slack's limits ({seconds:.0f} s per row, `pokemon 5`)",
    )
    with SlackStandIn() as slack, running_stack(stack_env(slack)) as base:
        url = f"{base}/slack/events"
        learn(slack, url, "TLEARNED")
        for team, channels, per_minute in (
            ("TLEARNING", 1, 30),
            ("TLEARNING2", 1, 60),
            ("TLEARNED", 1, 30),
            ("TLEARNED", 1, 60),
            ("TLEARNED", 4, 120),
        ):
            before, throttled = Counter(m for m, _ in list(slack.calls)), len(slack.throttled)
            prefix = f"C{team}{channels}{per_minute}x"
            n = int(per_minute * seconds / 60)
            start = time.perf_counter()
            for i in range(n):
                time.sleep(max(0.0, start + i * 60 / per_minute - time.perf_counter()))
                body = slash_form("pokemon 5", user=f"U{i}", channel=f"{prefix}{i % channels}", team=team)
                assert signed_post(url, body, FORM, SECRET)[0] == 200
            answered = wait_until(
                lambda prefix=prefix, n=n: (
                    (
                        k := sum(
                            1
                            for p in slack.called("chat.postMessage")
                            if "thread_ts" in p and p["channel"].startswith(prefix)
                        )
                    )
                    >= n
                    and k
                ),
                timeout=120,
                interval=0.5,
                what="the replies",
            )
            time.sleep(2)  # the last seeds
            calls = Counter(m for m, _ in list(slack.calls)) - before
            table.add_row(
                "learning" if team.startswith("TLEARNING") else "learned",
                str(channels),
                str(per_minute),
                str(n),
                str(answered),
                f"{calls['chat.postMessage'] / n:.2f}",
                f"{calls['reactions.add'] / n:.2f}",
                str(len(slack.throttled) - throttled),
            )
    console.print(table)
    console.print(
        "Per command: `/techname` posts 2 messages (headline, thread), a mention or DM 1; a learning team's reply "
        "adds up to 10 keycaps, within a budget of 45 a minute per workspace (Tier 3 is 50), a learned team's none "
        "(vote buttons cost no call). chat.postMessage allows about one a second per channel: ~30 slash commands a "
        "minute per channel; across channels the workspace limit is TNAAS_TEAM_RATE (120 a minute)."
    )


def learn(slack: SlackStandIn, url: str, team: str) -> None:
    """A team's people vote with keycaps: after KEYCAP_VOTES_TO_LEARN votes its replies stop being seeded."""
    assert signed_post(url, slash_form("cats 2", channel="CTEACH", team=team), FORM, SECRET)[0] == 200
    ts = wait_until(
        lambda: [
            p["_ts"]
            for p in slack.called("chat.postMessage")
            if p["channel"] == "CTEACH" and "thread_ts" in p and "_ts" in p
        ],
        timeout=30,
        what="a reply to vote on",
    )[0]
    for i in range(KEYCAP_VOTES_TO_LEARN):
        event = {
            "type": "event_callback",
            "team_id": team,
            "api_app_id": "A1",
            "event_id": f"EvTeach{i}",
            "event_time": int(time.time()),
            "event": {
                "type": "reaction_added",
                "user": f"UV{i}",
                "reaction": "one",
                "item": {"type": "message", "channel": "CTEACH", "ts": ts},
                "event_ts": str(i),
            },
        }
        assert signed_post(url, json.dumps(event).encode(), "application/json", SECRET)[0] == 200
    time.sleep(1)


def main() -> None:
    latency()
    within_limits()


if __name__ == "__main__":
    main()
