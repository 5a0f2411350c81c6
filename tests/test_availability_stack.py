"""Availability and `like` on the real stack: `tnaas web` and a `tnaas worker` on 127.0.0.1 with signed
Slack requests (a Slack Web API stand-in records the replies), the JSON API, and the package index /
npm registry stand-in as the registries the worker asks."""

import json
import statistics
import threading
import time
import urllib.parse

import pytest

from availability.rules import NPM, PYPI
from availability.snapshot import Snapshot, SnapshotStore
from store.votes import VoteStore
from testkit.processes import http, wait_until
from testkit.registry_standin import RegistryStandin
from testkit.slack_standin import signed_post
from testkit.stacks import slack_stack

SECRET = "test-signing-secret"
PYPI_NAMES = ["pip", "requests", "hoopa"]
NPM_NAMES = ["npm", "left-pad", "hoopa"]


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    snapshots = tmp_path_factory.mktemp("availability")
    store = SnapshotStore(snapshots)
    store.save(Snapshot.build(PYPI, PYPI_NAMES, "stand-in"))
    store.save(Snapshot.build(NPM, NPM_NAMES, "stand-in"))
    env = {
        "TNAAS_QUEUE": "availability",
        "TNAAS_DEFAULT_MODEL": "kn3",
        "TNAAS_DEFAULT_CORPUS": "pokemon",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "TNAAS_AVAILABILITY_DIR": snapshots,
        "TNAAS_AVAILABILITY_BREAKER_COOLDOWN": 2,
    }
    with RegistryStandin(PYPI_NAMES, NPM_NAMES) as registry:
        registries = {"TNAAS_PYPI_INDEX_URL": registry.pypi_url, "TNAAS_NPM_REGISTRY_URL": registry.npm_url}
        with slack_stack(trained_artifacts, tmp_path_factory.mktemp("redis"), **env, **registries) as s:
            yield {"base": s.base, "slack": s.slack, "redis": s.redis, "registry": registry}


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
        assert c["availability"]["pypi"]["verdict"] in ("free", "taken", "not allowed", "not registered")
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


def test_healthz_and_metrics_show_each_snapshot_and_its_age(stack):
    status, _, body = http("GET", f"{stack['base']}/healthz")
    assert status == 200, body
    snapshots = {s["registry"]: s for s in body["snapshots"]}
    assert snapshots["pypi"]["state"] == "fresh" and snapshots["pypi"]["names"] == len(PYPI_NAMES)
    assert 0 <= snapshots["npm"]["age"] < 3600
    _, _, text = http("GET", f"{stack['base']}/metrics")
    assert 'tnaas_availability_snapshot_age_seconds{registry="pypi"}' in text
    assert 'tnaas_availability_snapshot_names{registry="npm"} 3.0' in text
    assert 'tnaas_availability_breaker_open{registry="pypi"} 0.0' in text


def test_a_slow_registry_holds_no_unrelated_request(stack):
    """While the registry takes 3 s, requests that need no registry answer keep answering at once; then
    the registry recovers, and the breaker closes after its cool-down (a probe in the background)."""
    registry = stack["registry"]
    registry.mode, registry.delay = "slow", 3.0
    try:
        http("POST", f"{stack['base']}/api/v1/generate", {"corpus": "cats", "n": 3, "seed": 901})  # finds out
        waits = []
        for i in range(6):
            asked = threading.Thread(
                target=http,
                args=("POST", f"{stack['base']}/api/v1/generate", {"corpus": "cats", "n": 3, "seed": 910 + i}),
            )
            asked.start()
            time.sleep(0.05)
            start = time.monotonic()
            status, _, _ = http("POST", f"{stack['base']}/api/v1/detect", {"text": "snorlax"})
            waits.append(time.monotonic() - start)
            asked.join(30)
            assert status == 200
        assert statistics.median(waits) < 0.5, waits
    finally:
        registry.mode = "ok"

    def answered() -> bool:
        _, _, body = http("POST", f"{stack['base']}/api/v1/check", {"names": ["kafkify"]})
        return body["check"]["names"][0]["availability"]["pypi"]["verdict"] == "free"

    wait_until(answered, timeout=30, interval=0.5, what="the breaker to close once the registry answers")


def test_twenty_checks_from_one_address_stay_within_its_budget(stack):
    """840 registry calls before (20 checks x 20 names x 2 registries + canaries); now the address'
    bucket (TNAAS_AVAILABILITY_CALLER_BURST) bounds them, whatever client id the caller sends."""
    registry = stack["registry"]
    before = len(registry.requests)
    results = []

    def check(i: int) -> None:
        names = [f"zz{i}q{j}" for j in range(20)]
        results.append(http("POST", f"{stack['base']}/api/v1/check", {"names": names, "client": f"c{i}"}))

    threads = [threading.Thread(target=check, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(status == 200 for status, _, _ in results)
    assert len(registry.requests) - before <= 110  # the burst, and what refills meanwhile
