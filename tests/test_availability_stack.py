"""Availability and `like` on the real stack: `tnaas web` and a `tnaas worker` on 127.0.0.1 with signed
Slack requests (a Slack Web API stand-in records the replies), the JSON API, and the package index /
npm registry stand-in as the registries the worker asks."""

import json
import urllib.parse

import pytest
from redis import Redis

from availability.rules import NPM, PYPI
from availability.snapshot import Snapshot, SnapshotStore
from store.votes import VoteStore
from testkit.processes import http, start_web, start_worker, stop_process, tnaas_env, wait_until
from testkit.registry_standin import RegistryStandin
from testkit.slack_standin import SlackStandIn, signed_post
from tnaas.redis_server import EmbeddedRedis

SECRET = "test-signing-secret"
PYPI_NAMES = ["pip", "requests", "hoopa"]
NPM_NAMES = ["npm", "left-pad", "hoopa"]


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    snapshots = tmp_path_factory.mktemp("availability")
    store = SnapshotStore(snapshots)
    store.save(Snapshot.build(PYPI, PYPI_NAMES, "stand-in"))
    store.save(Snapshot.build(NPM, NPM_NAMES, "stand-in"))
    redis_server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    redis_server.start()
    slack = SlackStandIn().__enter__()
    registry = RegistryStandin(PYPI_NAMES, NPM_NAMES).start()
    env = tnaas_env(
        trained_artifacts,
        REDIS_URL=redis_server.url,
        TNAAS_QUEUE="availability",
        TNAAS_DEFAULT_MODEL="kn3",
        TNAAS_DEFAULT_CORPUS="pokemon",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        TNAAS_SLACK_API_URL=slack.url,
        TNAAS_USER_RATE=1000,
        TNAAS_PYPI_INDEX_URL=registry.pypi_url,
        TNAAS_NPM_REGISTRY_URL=registry.npm_url,
        TNAAS_AVAILABILITY_DIR=snapshots,
    )
    connection = Redis.from_url(redis_server.url)
    processes = []
    try:
        processes.append(start_worker(env, connection))
        web, base = start_web(env)
        processes.append(web)
        yield {"base": base, "slack": slack, "redis": connection, "registry": registry}
    finally:
        for process in processes:
            stop_process(process)
        registry.stop()
        slack.__exit__()
        redis_server.stop()


def slash(stack, text: str) -> tuple[int, str]:
    form = {
        "command": "/techname",
        "text": text,
        "user_id": "U1",
        "channel_id": "C1",
        "team_id": "T1",
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": "t",
    }
    return signed_post(
        f"{stack['base']}/slack/events",
        urllib.parse.urlencode(form).encode(),
        "application/x-www-form-urlencoded",
        SECRET,
    )


def thread_reply(stack, before: int) -> tuple[dict, dict]:
    def arrived():
        # posted messages only: the stand-in answers 429 to a burst in one channel, as Slack does
        calls = [c for c in stack["slack"].called("chat.postMessage")[before:] if "_ts" in c]
        return calls[:2] if len(calls) >= 2 else None

    parent, reply = wait_until(arrived, timeout=30, what="the threaded reply")
    return parent, reply


def test_check_in_slack(stack):
    before = len(stack["slack"].called("chat.postMessage"))
    status, _ = slash(stack, "check kafkify requests leftpad")
    assert status == 200
    parent, reply = thread_reply(stack, before)
    assert "`kafkify`" in parent["text"] and reply["thread_ts"]
    lines = reply["text"].splitlines()
    assert "*kafkify*: free on PyPI · free on npm" in lines
    assert "*requests*: taken on PyPI · free on npm" in lines
    assert "*leftpad*: free on PyPI · not allowed on npm" in lines
    assert any("too similar" in line for line in lines)


def test_like_in_slack_carries_marks_and_feeds_the_votes(stack):
    before = len(stack["slack"].called("chat.postMessage"))
    assert slash(stack, "like hoopa pokemon 3")[0] == 200
    parent, reply = thread_reply(stack, before)
    assert parent["text"] == "<@U1> asked for pokemon names like `hoopa`"
    names = reply["text"].splitlines()
    assert len(names) == 3 and all("on PyPI" in n and "on npm" in n for n in names)
    rows = wait_until(lambda: [r for r in VoteStore(stack["redis"]).export() if r.get("like")], what="impressions")
    assert [r["like"] for r in rows] == ["hoopa"] * 3 and "hoopa" not in {r["name"] for r in rows}
    assert [r["name"] for r in rows] == [line.split("*")[1] for line in names]


def test_free_in_slack_shows_only_confirmed_free_names(stack):
    before = len(stack["slack"].called("chat.postMessage"))
    assert slash(stack, "pokemon 3 free")[0] == 200
    parent, reply = thread_reply(stack, before)
    assert parent["text"] == "<@U1> asked for 3 free pokemon names"
    names = reply["text"].splitlines()
    assert len(names) == 3 and all(n.endswith("free on PyPI · free on npm") for n in names)


def test_the_api_returns_availability_per_candidate_and_answers_check_and_like(stack):
    status, _, body = http("POST", f"{stack['base']}/api/v1/generate", {"corpus": "cats", "n": 2, "seed": 1})
    assert status == 200
    for c in body["names"]["candidates"]:
        assert set(c["availability"]) == {"pypi", "npm"}
        assert c["availability"]["pypi"]["verdict"] in ("free", "taken", "not allowed")
    status, _, body = http("POST", f"{stack['base']}/api/v1/check", {"names": ["requests", "kafkify"]})
    assert status == 200
    verdicts = {n["name"]: {r: m["verdict"] for r, m in n["availability"].items()} for n in body["check"]["names"]}
    assert verdicts == {"requests": {"pypi": "taken", "npm": "free"}, "kafkify": {"pypi": "free", "npm": "free"}}
    status, _, body = http("POST", f"{stack['base']}/api/v1/like", {"name": "pikachu", "corpus": "pokemon", "n": 4})
    assert status == 200 and body["names"]["like"] == "pikachu" and len(body["names"]["candidates"]) == 4
    assert all(1 <= c["edits"] <= 3 and c["name"] != "pikachu" for c in body["names"]["candidates"])


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/like", {"name": "k*fka"}, "not a pattern"),
        ("/like", {"name": "   "}, "needs a name"),
        ("/like", {"name": "kafka", "corpus": "cobol"}, "don't know a corpus"),
        ("/check", {"names": []}, None),
        ("/check", {"names": [f"n{i}" for i in range(21)]}, None),
    ],
)
def test_bad_like_and_check_requests_get_a_clear_400_or_422(stack, path, body, says):
    status, _, answer = http("POST", f"{stack['base']}/api/v1{path}", body)
    assert status in (400, 422), answer
    if says:
        assert says in json.dumps(answer)
