"""The request path, hop by hop: the Redis commands each process sends for one API call and for one
slash command, on the real stack.

Run: ``.venv/bin/python -m bench.request_path`` after ``tnaas train``; ``--baseline DIR`` (repeatable):
the same on another checkout's stack (its own ``.venv`` when it has one), one after the other. Each
stack (an embedded redis-server, `tnaas web`, 2 workers, a stand-in for Slack's Web API, all on
127.0.0.1 and stopped by pid) is warmed up with a few requests; then Redis' MONITOR records every
command while one ``POST /api/v1/generate {"corpus": "pokemon", "n": 5}`` is answered, and while one
signed ``/techname pokemon 5`` is acknowledged and its reply posted, ``--repeat`` times each, one after
another (so that what a process does now and then -- heartbeats, rq's registry maintenance -- is counted
at its rate). Commands are attributed to the process whose socket sent them. Printed per request and
process, averaged over the repeats: commands, round trips, transactions (MULTI ... EXEC: one round trip
each) and scripts; then the hops of the last request in order (a run of one process' commands is one line).
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from redis import Redis
from rich.console import Console
from rich.table import Table

from bench.common import artifacts_env, children, role
from testkit.processes import http, running_stack, wait_until
from testkit.slack_standin import SlackStandIn, signed_post, slash_form

SECRET = "bench-signing-secret"
FORM = "application/x-www-form-urlencoded"
BODY = {"corpus": "pokemon", "n": 5}
console = Console(width=150)


@contextmanager
def monitored(redis_url: str) -> Iterator[list[dict]]:
    """Every command Redis runs meanwhile (MONITOR), in order, with the client's port."""
    seen: list[dict] = []
    done = threading.Event()
    connection = Redis.from_url(redis_url)

    def listen() -> None:
        with connection.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if done.is_set():
                    return
                seen.append(command)

    ready = threading.Event()
    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(5)
    time.sleep(0.2)
    try:
        yield seen
    finally:
        time.sleep(0.3)  # the last commands' echo
        done.set()
        connection.ping()  # one more command wakes the listener up to see `done`
        thread.join(5)


def ports_by_role(pids: set[int]) -> dict[int, str]:
    """Local TCP port -> the role of the stack process that holds it (web, worker.1, ...)."""
    out, workers = {}, itertools.count(1)
    for pid in sorted(pids):
        name = role(pid)
        if name == "workers":
            name = f"worker.{next(workers)}"
        try:
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.laddr:
                    out[conn.laddr.port] = name
        except psutil.Error:
            continue
    return out


def attributed(commands: list[dict], ports: dict[int, str]) -> list[tuple[str, str]]:
    """(process, command name) in order; the MONITOR's own PING and this script's commands dropped."""
    out = []
    for c in commands:
        who = ports.get(int(c.get("client_port") or 0), "other")
        if who in ("other", "redis"):
            continue
        out.append((who, c["command"].split(" ", 1)[0].upper()))
    return out


def summary(hops: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Per process: commands, transactions and scripts; round trips = commands outside a transaction
    (a pipeline without MULTI counts its commands one by one: an upper bound) + transactions."""
    out: dict[str, dict[str, int]] = {}
    inside: dict[str, bool] = {}
    for who, command in hops:
        s = out.setdefault(who, {"commands": 0, "transactions": 0, "scripts": 0, "round trips": 0})
        s["commands"] += 1
        if command == "MULTI":
            s["transactions"] += 1
            s["round trips"] += 1
            inside[who] = True
        elif command == "EXEC":
            inside[who] = False
        elif not inside.get(who):
            s["round trips"] += 1
        if command in ("EVAL", "EVALSHA", "FCALL"):
            s["scripts"] += 1
    return out


def runs(hops: list[tuple[str, str]]) -> list[str]:
    """The hops in order, a run of one process' commands on one line."""
    lines = []
    for who, group in itertools.groupby(hops, key=lambda h: h[0]):
        counted = Counter(command for _, command in group)
        lines.append(f"{who}: " + ", ".join(f"{c}x{n}" if n > 1 else c for c, n in counted.items()))
    return lines


def measure(checkout: str | None, repeat: int) -> dict[str, list[list[tuple[str, str]]]]:
    before = children()
    with SlackStandIn() as slack:
        env = artifacts_env(checkout) | {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "TNAAS_SLACK_API_URL": slack.url,
        }
        with running_stack(env, cwd=checkout, tcp=True) as base:
            pids = children() - before
            redis_url = next(
                f"redis://127.0.0.1:{c.laddr.port}/0"
                for pid in pids
                if role(pid) == "redis"
                for c in psutil.Process(pid).net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN
            )
            for i in range(5):  # warm: models, reservoir columns, rq's first contact, Slack's auth.test
                http("POST", f"{base}/api/v1/generate", BODY | {"seed": i})
                signed_post(f"{base}/slack/events", slash_form("pokemon 5", channel=f"CWARM{i}"), FORM, SECRET)
            wait_until(lambda: len(slack.called("chat.postMessage")) >= 10, timeout=60, what="the warm-up replies")
            time.sleep(2)
            ports = ports_by_role(pids)
            api, slash = [], []
            for _ in range(repeat):
                with monitored(redis_url) as seen:
                    status, _, answer = http("POST", f"{base}/api/v1/generate", BODY)
                    assert status == 200, answer
                api.append(seen)
            for i in range(repeat):
                posted = len(slack.called("chat.postMessage"))
                with monitored(redis_url) as seen:
                    form = slash_form("pokemon 5", channel=f"CPATH{i}")
                    status, _ = signed_post(f"{base}/slack/events", form, FORM, SECRET)
                    assert status == 200
                    wait_until(
                        lambda: len(slack.called("chat.postMessage")) >= posted + 2, timeout=30, what="the reply"
                    )
                    time.sleep(0.5)  # the reply's last steps
                slash.append(seen)
            ports |= ports_by_role(children() - before)
            traffic = {
                "API call": bytes_per(redis_url, repeat, lambda: http("POST", f"{base}/api/v1/generate", BODY)),
                "slash command": bytes_per(redis_url, repeat, lambda: slash_replied(base, slack)),
            }
            return {
                "API call": [attributed(s, ports) for s in api],
                "slash command": [attributed(s, ports) for s in slash],
                "bytes": traffic,
            }


def slash_replied(base: str, slack: SlackStandIn) -> None:
    posted = len(slack.called("chat.postMessage"))
    form = slash_form("pokemon 5", channel=f"CBYTES{posted}")
    assert signed_post(f"{base}/slack/events", form, FORM, SECRET)[0] == 200
    wait_until(lambda: len(slack.called("chat.postMessage")) >= posted + 2, timeout=30, what="the reply")
    time.sleep(0.5)  # the reply's last steps


def bytes_per(redis_url: str, repeat: int, request) -> dict[str, float]:
    """Bytes Redis received and sent per request (INFO's net counters, no MONITOR running: it would
    count every command again), the workers' idle heartbeats meanwhile included, less what reading
    the counters itself costs (measured with nothing in between)."""
    connection = Redis.from_url(redis_url)

    def counters() -> tuple[int, int]:
        stats = connection.info("stats")
        return stats["total_net_input_bytes"], stats["total_net_output_bytes"]

    first, second = counters(), counters()
    overhead = (second[0] - first[0], second[1] - first[1])
    start = counters()
    for _ in range(repeat):
        request()
    end = counters()
    return {
        "received": (end[0] - start[0] - overhead[0]) / repeat,
        "sent": (end[1] - start[1] - overhead[1]) / repeat,
    }


def averaged(runs_: list[list[tuple[str, str]]]) -> dict[str, dict[str, float]]:
    """``summary`` of each run, averaged; the workers added up (which one answers is chance)."""
    total: dict[str, dict[str, float]] = {}
    for hops in runs_:
        for who, s in summary([("workers" if w.startswith("worker") else w, c) for w, c in hops]).items():
            for k, v in s.items():
                total.setdefault(who, {}).setdefault(k, 0.0)
                total[who][k] += v / len(runs_)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", action="append", default=[], help="another checkout's directory")
    parser.add_argument("--repeat", type=int, default=20, help="requests of each kind, one after another")
    parser.add_argument("--json", action="store_true", help="the hops as JSON")
    args = parser.parse_args()
    results = {Path(b).name: measure(b, args.repeat) for b in args.baseline} | {
        "this checkout": measure(None, args.repeat)
    }
    if args.json:
        print(json.dumps(results, indent=1))
        return
    table = Table(
        "stack",
        "request",
        "process",
        "commands",
        "round trips",
        "transactions",
        "scripts",
        title=f"Redis per request, mean of {args.repeat} one after another",
    )
    for stack, requests in results.items():
        for request, each in requests.items():
            if request == "bytes":
                continue
            for who, s in sorted(averaged(each).items()):
                table.add_row(
                    stack,
                    request,
                    who,
                    *(f"{s[k]:.1f}" for k in ("commands", "round trips", "transactions", "scripts")),
                )
    console.print(table)
    traffic = Table("stack", "request", "bytes Redis received", "bytes Redis sent", title="Redis traffic per request")
    for stack, requests in results.items():
        for request, moved in requests["bytes"].items():
            traffic.add_row(stack, request, f"{moved['received']:,.0f}", f"{moved['sent']:,.0f}")
    console.print(traffic)
    for stack, requests in results.items():
        for request, each in requests.items():
            if request == "bytes":
                continue
            console.print(f"\n[bold]{stack}: {request} (the last one)[/bold]")
            for line in runs(each[-1]):
                console.print(f"  {line}")


if __name__ == "__main__":
    main()
