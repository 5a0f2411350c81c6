"""The Slack bot end to end: the real web process and workers, signed requests over HTTP, and a
local stand-in for the Slack Web API that records every call."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC

import pytest
from redis import Redis

from store.votes import VoteStore
from testkit.processes import start_web, start_worker, stop_process, tnaas_env, wait_until
from testkit.slack_standin import BOT_USER, SlackStandIn, signed_post
from tnaas.redis_server import EmbeddedRedis

SECRET = "test-signing-secret"


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    """Redis, the Slack stand-in, `tnaas web` and one `tnaas worker`, all on 127.0.0.1."""
    redis_server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    redis_server.start()
    standin = SlackStandIn().__enter__()
    env = tnaas_env(
        trained_artifacts,
        REDIS_URL=redis_server.url,
        TNAAS_QUEUE="slack",
        TNAAS_DEFAULT_MODEL="kn3",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        TNAAS_SLACK_API_URL=standin.url,
        TNAAS_USER_RATE=1000,
    )
    connection = Redis.from_url(redis_server.url)
    processes = []
    try:
        processes.append(start_worker(env, connection))
        web, base = start_web(env)
        processes.append(web)
        yield {"url": f"{base}/slack/events", "slack": standin, "redis": connection, "env": env}
    finally:
        for process in processes:
            stop_process(process)
        standin.__exit__()
        redis_server.stop()


def slash(stack, text: str, user: str = "U1", secret: str = SECRET, age: int = 0) -> tuple[int, str]:
    form = {
        "command": "/techname",
        "text": text,
        "user_id": user,
        "channel_id": "C1",
        "team_id": "T1",
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": "t",
    }
    return signed_post(
        stack["url"], urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded", secret, age
    )


def event(stack, inner: dict, event_id: str) -> tuple[int, str]:
    body = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": inner,
    }
    return signed_post(stack["url"], json.dumps(body).encode(), "application/json", SECRET)


def new_calls(stack, method: str, before: int, count: int) -> list[dict]:
    """The calls of ``method`` made after the first ``before``, once there are ``count`` of them."""

    def arrived():
        calls = stack["slack"].called(method)[before:]
        return calls if len(calls) >= count else None

    return wait_until(arrived, timeout=20, what=f"{count} {method} call(s)")


def test_slash_command_replies_in_a_thread_with_vote_buttons(stack):
    posts, reactions = len(stack["slack"].called("chat.postMessage")), len(stack["slack"].called("reactions.add"))
    start = time.perf_counter()
    status, _ = slash(stack, "pokemon 3")
    assert status == 200 and time.perf_counter() - start < 3
    parent, candidates = new_calls(stack, "chat.postMessage", posts, 2)[:2]
    assert parent["channel"] == "C1" and parent["text"] == "<@U1> asked for 3 pokemon names"
    assert candidates["thread_ts"] and candidates["text"].count("\n") == 2
    seeded = new_calls(stack, "reactions.add", reactions, 3)
    assert [r["name"] for r in seeded] == ["one", "two", "three"]


def test_votes_count_once_per_person_and_ignore_the_bot(stack):
    reactions = len(stack["slack"].called("reactions.add"))
    slash(stack, "cats 2")
    ts = new_calls(stack, "reactions.add", reactions, 2)[0]["timestamp"]  # seeded on the candidate message
    item = {"type": "message", "channel": "C1", "ts": ts}
    vote = {
        "type": "reaction_added",
        "user": "U7",
        "reaction": "two",
        "item": item,
        "item_user": BOT_USER,
        "event_ts": "1",
    }
    assert event(stack, vote, "Ev1")[0] == 200
    assert event(stack, vote, "Ev1")[0] == 200  # Slack's retry of the same event
    assert event(stack, vote | {"user": BOT_USER}, "Ev2")[0] == 200  # the bot's own seeded reaction
    store = VoteStore(stack["redis"])
    wait_until(lambda: store.tally("C1", ts) == {2: {"up": 1, "down": 0}}, timeout=10, what="the vote")
    event(stack, vote | {"type": "reaction_removed"}, "Ev3")
    wait_until(lambda: store.tally("C1", ts) == {}, timeout=10, what="the vote to be removed")
    rows = [r for r in store.export() if r["ts"] == ts]
    assert [r["index"] for r in rows] == [1, 2] and rows[0]["corpus"] == "cats" and rows[0]["requested_by"] == "U1"


def test_a_mention_is_answered_in_its_thread(stack):
    posts = len(stack["slack"].called("chat.postMessage"))
    mention = {
        "type": "app_mention",
        "user": "U2",
        "text": f"<@{BOT_USER}> *u*a pokemon",
        "channel": "C9",
        "ts": "1699999999.000200",
        "event_ts": "1699999999.000200",
    }
    assert event(stack, mention, "EvM1")[0] == 200
    event(stack, mention, "EvM1")  # retried: answered once
    reply = new_calls(stack, "chat.postMessage", posts, 1)[0]
    assert reply["channel"] == "C9" and reply["thread_ts"] == "1699999999.000200"
    time.sleep(1.0)
    assert len([p for p in stack["slack"].called("chat.postMessage")[posts:] if p["channel"] == "C9"]) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("pokemn", "I don't know a corpus called 'pokemn'"),
        ("", "Try `pokemon`"),
        ("pokemon 99", "between 1 and 20"),
        ("<!channel> blah=1", "I don't know the option"),
    ],
)
def test_help_and_errors_are_private_and_never_echo_mass_mentions(stack, text, says):
    status, body = slash(stack, text)
    assert status == 200 and says in body and "<!channel>" not in body


def test_unsigned_stale_or_forged_requests_get_401(stack):
    assert slash(stack, "pokemon", secret="wrong")[0] == 401
    assert slash(stack, "pokemon", age=10 * 60)[0] == 401
    request = urllib.request.Request(stack["url"], data=b"command=/techname&text=pokemon", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 401


def test_a_slack_job_that_waited_too_long_says_busy_instead_of_answering_late(stack):
    """No worker takes this queue for 2 s (> TNAAS_QUEUE_TTL=1), then one does: the user hears "busy"."""
    from datetime import datetime, timedelta

    from jobs.slack_reply import waited_too_long

    now = datetime.now(UTC)
    assert waited_too_long(now - timedelta(seconds=31), 30, now) and not waited_too_long(
        now - timedelta(seconds=5), 30, now
    )
    from jobs.contracts import GenerateRequest
    from jobs.queueing import enqueue_slack
    from tnaas.settings import Settings

    settings = Settings(redis_url="unused", queue="slack-stale", queue_ttl=1)
    enqueue_slack(
        stack["redis"],
        GenerateRequest(corpus="pokemon"),
        {"kind": "mention", "channel": "C5", "user": "U5", "thread_ts": "1.5"},
        settings,
    )
    time.sleep(2)
    ephemerals = len(stack["slack"].called("chat.postEphemeral"))
    env = stack["env"] | {"TNAAS_QUEUE": "slack-stale", "TNAAS_QUEUE_TTL": "1"}
    worker = subprocess.run(
        [sys.executable, "-m", "tnaas", "worker", "--burst"], env=env, capture_output=True, timeout=120
    )
    assert worker.returncode == 0
    said = stack["slack"].called("chat.postEphemeral")[ephemerals:]
    assert [(s["channel"], s["user"], s["text"]) for s in said] == [
        ("C5", "U5", "I'm busy right now: try again in a moment.")
    ]
