"""Availability and `like` on the real stack: `tnaas web` and a `tnaas worker` on 127.0.0.1 with signed
Slack requests (a Slack Web API stand-in records the replies), the JSON API, and the package index /
npm registry stand-in as the registries the worker asks."""

import itertools
import json
import statistics
import threading
import time
import urllib.parse

import pytest

from availability.rules import NPM, PYPI
from availability.snapshot import Snapshot, SnapshotStore
from store.availability import AvailabilityCache
from store.shortlists import Shortlists
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


def registries_answer(stack) -> None:
    """Each registry's breaker closed (an earlier test may have left one open for its cool-down)."""

    probes = (f"breakerprobe{i}{int(time.time())}" for i in itertools.count())  # never cached

    def answered() -> bool:
        _, _, body = http("POST", f"{stack['base']}/api/v1/check", {"names": [next(probes)]})
        marks = body["check"]["names"][0]["availability"]
        return all(m["verdict"] == "free" for m in marks.values())

    wait_until(answered, timeout=30, interval=0.5, what="the registries to answer")


def open_home(stack, event_id: str, user: str = "U5") -> dict:
    """The person opens the bot's Home tab; the tab once it shows the shortlist's re-checked marks."""
    stack["slack"].views.pop(("T1", user), None)
    body = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": user, "tab": "home", "channel": "DHOME"},
    }
    url = f"{stack['base']}/slack/events"
    assert signed_post(url, json.dumps(body).encode(), "application/json", SECRET)[0] == 200

    def rechecked():
        view = stack["slack"].views.get(("T1", user))
        return view if view and " on PyPI" in json.dumps(view) else None

    return wait_until(rechecked, timeout=30, what="the Home tab with its shortlist re-checked")


def shortlist_line_of(view: dict, name: str) -> str:
    return next(b["text"]["text"] for b in view["blocks"] if b["type"] == "section" and name in b["text"]["text"])


def test_opening_home_rechecks_the_shortlist_and_shows_a_name_taken_since_it_was_shortlisted(stack):
    registry, name = stack["registry"], "zorblaxy"
    registries_answer(stack)
    shortlist = Shortlists(stack["redis"])
    shortlist.add("T1", name, "pokemon", "U5")
    try:
        line = shortlist_line_of(open_home(stack, "EvHomeRecheck1"), name)
        assert line.endswith("free on PyPI · free on npm")
        asked = len(registry.requests)
        line = shortlist_line_of(open_home(stack, "EvHomeRecheck2"), name)  # again at once: from the cache
        assert line.endswith("free on PyPI · free on npm")
        assert not [r for r in registry.requests[asked:] if name in r]

        registry.pypi[name] = name  # taken since, on both registries
        registry.npm.add(name)
        cache = AvailabilityCache(stack["redis"], 1)
        stack["redis"].delete(*stack["redis"].scan_iter(f"{cache.prefix}*"))  # an hour later: the cache expired
        line = shortlist_line_of(open_home(stack, "EvHomeRecheck3"), name)
        assert line.endswith("taken on PyPI · taken on npm")
        assert [r for r in registry.requests[asked:] if name in r]
        assert stack["slack"].block_refusals == []
    finally:
        shortlist.forget_team("T1")


def test_a_workflow_step_with_a_pattern_and_free_completes_with_free_completions(stack):
    registries_answer(stack)
    body = stack["slack"].function_executed({"corpus": "pokemon", "n": 3, "pattern": "p*k**", "free": True})
    url = f"{stack['base']}/slack/events"
    assert signed_post(url, json.dumps(body).encode(), "application/json", SECRET)[0] == 200
    execution = stack["slack"].executions[body["event"]["function_execution_id"]]
    done = wait_until(lambda: execution["completion"], timeout=60, what="the step's completion")
    names = done["outputs"]["names"]
    assert len(names) == 3 and all(len(n) == 5 and n[0] == "p" and n[2] == "k" for n in names)
    assert not set(names) & set(PYPI_NAMES + NPM_NAMES)
