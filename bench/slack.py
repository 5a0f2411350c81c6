"""Slack path on the real stack: signed slash command -> ack and -> threaded reply; then what one
workspace costs in Slack API calls and how many commands a minute it can sustain within Slack's limits.

Run: ``.venv/bin/python -m bench.slack`` after ``tnaas train`` (about 6 minutes; ``--only latency`` or
``--only limits`` for one part). Starts an embedded
redis-server, a local stand-in for the Slack Web API, `tnaas web` and 2 workers on 127.0.0.1 (stopped
by pid at the end); all loops are bounded.

1. Latency: the stand-in's rate limits are off (its "minute" is a millisecond), the commands come from
   100 channels (a batch posts each channel's replies in turn). Sequential: 200
   commands one after another. Sustained: commands at a fixed rate for 10 s each, rate raised until
   the reply p99 degrades.
2. Rate limits: the stand-in enforces Slack's documented limits in real time (``reactions.add`` Tier 3,
   50 a minute per workspace; ``chat.postMessage`` one a second per channel, short bursts). Commands
   (``pokemon 5``) are sent at a fixed rate for 30 s by a team still learning the keycap convention
   (its replies are seeded, within the budget) and by one that has learned it (buttons only), each row
   in channels of its own after the previous row has gone quiet. Printed: Slack calls per command by
   method (successful posts, every reactions.add), 429s Slack answered, commands answered, and seconds
   from command to posted candidates.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from rich.console import Console
from rich.table import Table

from bench.common import artifacts_env, children, cpu_seconds, pct
from core.limits import KEYCAP_VOTES_TO_LEARN
from testkit.processes import running_stack, wait_until
from testkit.slack_standin import SlackStandIn, signed_post, slash_form

SECRET = "bench-signing-secret"
CHANNELS = 100  # the latency part's commands come from this many channels (Slack: ~1 post a second each)
FORM = "application/x-www-form-urlencoded"
console = Console(width=150)


def stack_env(slack: SlackStandIn, cwd: str | None = None) -> dict:
    return artifacts_env(cwd) | {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "TNAAS_SLACK_API_URL": slack.url,
    }


def latency(
    rates: tuple[int, ...] = (5, 10, 20, 40, 80), cwd: str | None = None, workers: int = 2, slack_latency: float = 0.0
) -> None:
    """The latency part on this checkout's stack, or on ``cwd``'s (another checkout: a baseline), with
    ``workers`` workers, against a Slack that answers each call in ``slack_latency`` s."""
    before = children()
    with (
        SlackStandIn(minute=1e-3, latency=slack_latency) as slack,
        running_stack(stack_env(slack, cwd), workers=workers, cwd=cwd) as base,
    ):
        url = f"{base}/slack/events"
        pids = children() - before

        def command(i: int) -> tuple[str, float, float]:
            """Send one signed slash command; (user, sent at, ack seconds)."""
            user = f"U{i}"
            form = {
                "command": "/techname",
                "text": "pokemon 5",
                "user_id": user,
                "channel_id": f"C{i % CHANNELS}",
                "team_id": "T1",
            }
            start = time.perf_counter()
            status, _ = signed_post(url, urllib.parse.urlencode(form).encode(), FORM, SECRET)
            assert status == 200
            return user, start, time.perf_counter() - start

        def reply_times(sent: list[tuple[str, float, float]], timeout: float = 120) -> dict[str, float]:
            """Seconds from sending each command to its candidates being posted in the thread, by user,
            for those answered within ``timeout`` s (a stack that falls behind or drops some has fewer)."""

            def replied() -> dict[str, float]:
                with slack.lock:
                    calls = list(zip(slack.calls, slack.times))
                parent = {
                    p["_ts"]: p["text"].split(">")[0][2:]
                    for (m, p), _ in calls
                    if m == "chat.postMessage" and "thread_ts" not in p and "_ts" in p
                }
                return {
                    parent[p["thread_ts"]]: t
                    for (m, p), t in calls
                    if m == "chat.postMessage" and p.get("thread_ts") in parent
                }

            def all_replied() -> dict[str, float] | None:
                done = replied()
                return done if all(user in done for user, _, _ in sent) else None

            with suppress(AssertionError):  # timed out: what was answered is the row's figure
                wait_until(all_replied, timeout=timeout, interval=0.2, what="every reply")
            done = replied()
            return {user: done[user] - start for user, start, _ in sent if user in done}

        def row(label: str, sent, cpu: dict[str, float]) -> bool:
            """A table row; False if some command was not answered (its loss is in the row)."""
            acks, answered = [a for _, _, a in sent], reply_times(sent)
            replies = list(answered.values()) or [float("nan")]
            cpu = {k: v - cpu.get(k, 0.0) for k, v in spent().items()}
            ends = [start + answered[user] for user, start, _ in sent if user in answered]
            span = (max(ends) if ends else float("nan")) - min(start for _, start, _ in sent)
            table.add_row(
                label,
                f"{len(answered)}/{len(sent)}",
                f"{len(answered) / span:.0f}",
                f"{1000 * statistics.median(acks):.1f}",
                f"{pct(acks, 0.99):.1f}",
                f"{1000 * statistics.median(replies):.1f}",
                f"{pct(replies, 0.99):.1f}",
                " ".join(f"{k} {1000 * v / len(sent):.1f}" for k, v in cpu.items()),
            )
            return len(answered) == len(sent)

        def spent() -> dict[str, float]:
            """CPU seconds so far: the stack's processes by role, and this process (the client sending
            commands and the Slack stand-in answering the workers' calls, threads of one process)."""
            by_role = cpu_seconds(pids)
            return {k: by_role.get(k, 0.0) for k in ("web", "workers", "redis")} | {
                "client+stand-in": time.process_time()
            }

        table = Table(
            "load",
            "answered",
            "answered/s",
            "ack median ms",
            "ack p99 ms",
            "reply median ms",
            "reply p99 ms",
            "CPU ms per command",
            title=f"latency, {cwd or 'this checkout'}, {workers} workers, Slack answering in {1000 * slack_latency:.0f} ms (answered/s: commands over the seconds from the first sent "
            "to the last answered)",
        )
        for i in range(30):  # warm up, one at a time: a worker's first jobs are slower (~0.4 s)
            reply_times([command(-i - 1)])
        sent, cpu = [], spent()
        for i in range(200):
            sent.append(command(i))
            reply_times(sent[-1:])  # one at a time: wait for the reply before the next command
        row("sequential (200)", sent, cpu)
        start_id = 10_000
        for rate in rates:
            n, cpu = rate * 10, spent()
            with ThreadPoolExecutor(max_workers=32) as pool:
                futures, start = [], time.perf_counter()
                for i in range(n):
                    time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                    futures.append(pool.submit(command, start_id + i))
                sent = [f.result() for f in futures]
            start_id += n
            if not row(f"{rate}/s for 10 s", sent, cpu):
                break  # lost or late at this rate: higher rates say no more
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
        "reply p50 s",
        "reply max s",
        title=f"one workspace within Slack's limits ({seconds:.0f} s per row, `pokemon 5`, real-time limits)",
    )
    with SlackStandIn() as slack, running_stack(stack_env(slack)) as base:
        url = f"{base}/slack/events"
        learn(slack, url, "TLEARNED")
        # One SLACK_BOT_TOKEN here, so Slack counts every "team" of this bench as one workspace.
        for row, (team, channels, per_minute) in enumerate(
            (
                ("TLEARNING1", 1, 20),
                ("TLEARNED", 1, 20),
                ("TLEARNED", 1, 30),
                ("TLEARNING2", 1, 40),  # over a minute after the first learning row: its seeds are past
                ("TLEARNED", 1, 40),
                ("TLEARNED", 4, 80),
            )
        ):
            prefix = f"CROW{row}x"
            n = int(per_minute * seconds / 60)
            sent, start = {}, time.perf_counter()
            for i in range(n):
                time.sleep(max(0.0, start + i * 60 / per_minute - time.perf_counter()))
                user = f"UR{row}x{i}"
                sent[user] = time.perf_counter()
                body = slash_form("pokemon 5", user=user, channel=f"{prefix}{i % channels}", team=team)
                assert signed_post(url, body, FORM, SECRET)[0] == 200

            def ours(prefix=prefix) -> list[tuple[str, dict, float]]:
                with slack.lock:
                    calls = list(zip(slack.calls, slack.times))
                return [(m, p, t) for (m, p), t in calls if str(p.get("channel", "")).startswith(prefix)]

            def replied(ours=ours) -> dict[str, float]:
                """user -> when their candidates were posted (the headline names the user)."""
                posted = [(p, t) for m, p, t in ours() if m == "chat.postMessage" and "_ts" in p]
                heads = {p["_ts"]: p["text"].split(">")[0][2:] for p, _ in posted if "thread_ts" not in p}
                return {heads[p["thread_ts"]]: t for p, t in posted if p.get("thread_ts") in heads}

            wait_until(lambda n=n, replied=replied: len(replied()) >= n, timeout=300, interval=0.5, what="the replies")
            settle(slack)
            calls = Counter(m for m, p, _ in ours() if m == "reactions.add" or "_ts" in p)
            done = replied()
            waits = sorted(done[u] - sent[u] for u in sent if u in done)
            table.add_row(
                "learning" if team.startswith("TLEARNING") else "learned",
                str(channels),
                str(per_minute),
                str(n),
                str(len(done)),
                f"{calls['chat.postMessage'] / n:.2f}",
                f"{calls['reactions.add'] / n:.2f}",
                str(sum(1 for _, _, channel in list(slack.throttled) if channel.startswith(prefix))),
                f"{statistics.median(waits):.2f}",
                f"{waits[-1]:.2f}",
            )
    console.print(table)
    console.print(
        "Per command: `/techname` posts 2 messages (headline, thread), a mention or DM 1; a learning team's reply "
        "adds up to 10 keycaps, within a budget of 45 a minute per workspace (Tier 3 is 50), a learned team's none "
        "(vote buttons cost no call). chat.postMessage allows about one a second per channel, so one channel "
        "sustains ~30 slash commands a minute; a 429 is waited out (Retry-After) and the reply arrives later."
    )


def settle(slack: SlackStandIn, quiet: float = 3.0) -> None:
    """Wait until Slack has seen no call for ``quiet`` seconds (retries and seeds done): rows stay apart."""
    wait_until(lambda: slack.times and time.perf_counter() - slack.times[-1] > quiet, timeout=120, what="quiet")


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
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["latency", "limits"], help="run one part")
    parser.add_argument("--rates", default="5,10,20,40,80", help="sustained commands/s of the latency part")
    parser.add_argument(
        "--baseline", action="append", default=[], help="latency part first on another checkout's stack (repeatable)"
    )
    parser.add_argument("--workers", default="2", help="comma-separated worker counts: the latency part with each")
    parser.add_argument(
        "--slack-latency", type=float, default=0.0, help="seconds the Slack stand-in takes to answer each call"
    )
    args = parser.parse_args()
    only = args.only
    if only in (None, "latency"):
        for workers in (int(w) for w in args.workers.split(",")):
            for cwd in [*args.baseline, None]:
                latency(tuple(int(r) for r in args.rates.split(",")), cwd, workers, args.slack_latency)
    if only in (None, "limits"):
        within_limits()


if __name__ == "__main__":
    main()
