"""A team's own corpus over HTTP against the real stack (a redis-server, `tnaas web`, `tnaas worker`):
added, trained by the worker, answered from, private to its owner, deleted with everything made from it."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest
from redis import Redis
from rq.job import Job, JobStatus

from core.limits import TEAM_CORPUS_MAX_BODY
from corpora import load_corpus
from store.team_corpora import TeamCorpora, corpus_id
from store.votes import VoteStore
from testkit.processes import (
    http,
    post_while_refused,
    start_web,
    start_worker,
    stop_process,
    tnaas_env,
    voter_cookie,
    wait_until,
)
from tnaas.redis_server import EmbeddedRedis

HEROES = random.Random(7).sample(load_corpus("superheroes"), 300)


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    env = tnaas_env(
        trained_artifacts,
        REDIS_URL=server.url,
        TNAAS_QUEUE="team",
        TNAAS_USER_RATE=1000,
        TNAAS_VOTE_RATE=1000,
        TNAAS_DEFAULT_MODEL="kn3",
    )
    connection = Redis.from_url(server.url)
    worker = start_worker(env, connection)
    try:
        web, base = start_web(env)
    except BaseException:
        stop_process(worker)
        server.stop()
        raise
    try:
        yield {"base": base, "redis": connection, "env": env}
    finally:
        stop_process(web)
        stop_process(worker)
        server.stop()


def call(stack, method: str, path: str, body=None, who: str | None = None, **kw):
    headers = {"Cookie": who} if who else {}
    return http(method, f"{stack['base']}/api/v1{path}", body, headers=headers, **kw)


def ready(stack, name: str, who: str) -> dict:
    """The corpus' state once trained (the API answers 202 while it trains)."""
    return wait_until(
        lambda: (s := call(stack, "GET", f"/corpora/{name}", who=who)[2]).get("status") == "ready" and s,
        timeout=60,
        what=f"{name} trained",
    )


def owner_of(stack, slug: str) -> str:
    """The owner key (as the web process derives it from the caller) that holds ``slug``."""
    owners = [k.decode().removeprefix("tnaas:corpora:") for k in stack["redis"].scan_iter("tnaas:corpora:*")]
    return next(o for o in owners if stack["redis"].hexists(f"tnaas:corpora:{o}", slug))


def test_a_corpus_is_added_trained_answered_from_and_private_then_deleted_with_its_traces(stack):
    alice, bob = voter_cookie(stack["base"]), voter_cookie(stack["base"])
    names = [*HEROES, HEROES[0], "🦸hero", "x" * 40]
    status, _, added = call(stack, "POST", "/corpora", {"name": "Heroes", "names": names}, who=alice)
    assert status in (200, 202), added
    assert added["name"] == "heroes" and added["poll"] == "/api/v1/corpora/heroes"
    state = ready(stack, "heroes", alice)
    report = state["report"]
    assert report["names"] == 300 and report["model"] == "kn4" and report["heldout_nll"] > 0
    assert sum(report["dropped"].values()) == 3 and report["dropped"]["duplicates"] == 1
    assert len(report["examples"]) == 5 and report["warning"] is None

    listed = {c["name"]: c for c in call(stack, "GET", "/corpora", who=alice)[2]}
    assert listed["heroes"]["team"] and listed["heroes"]["status"] == "ready" and "pokemon" in listed
    assert "heroes" not in {c["name"] for c in call(stack, "GET", "/corpora", who=bob)[2]}

    status, _, answer = call(stack, "POST", "/generate", {"corpus": "heroes", "n": 5, "seed": 3}, who=alice)
    assert status == 200, answer
    got = answer["names"]
    assert got["corpus"] == "heroes" and got["model"] == "kn4" and len(got["candidates"]) == 5
    assert not {c["name"] for c in got["candidates"]} & set(HEROES)  # new names, never the list's own
    same = call(stack, "POST", "/generate", {"corpus": "heroes", "n": 5, "seed": 3}, who=alice)[2]["names"]
    assert [c["name"] for c in same["candidates"]] == [c["name"] for c in got["candidates"]]
    status, _, done = call(stack, "POST", "/complete", {"pattern": "s***r", "corpus": "heroes"}, who=alice)
    assert status == 200 and all(len(c["name"]) == 5 for c in done["names"]["candidates"])
    status, _, near = call(stack, "POST", "/like", {"name": "spider", "corpus": "heroes", "n": 3}, who=alice)
    assert status == 200 and near["names"]["candidates"]

    listed_name = {"text": HEROES[5]}  # `is NAME`: the asker's own corpora that hold it, no one else's
    assert "heroes" in call(stack, "POST", "/detect", listed_name, who=alice)[2]["sounds_like"]["real_in"]
    assert "heroes" not in call(stack, "POST", "/detect", listed_name, who=bob)[2]["sounds_like"]["real_in"]

    vote = {"answer_id": answer["answer_id"], "index": 1, "direction": 1}
    assert call(stack, "POST", "/votes", vote, who=alice)[2]["up"] == 1
    top = call(stack, "GET", "/top", who=bob)[2]
    assert got["candidates"][0]["name"] not in str(top)  # a private corpus' votes never reach everyone's top
    own_top = call(stack, "GET", "/top?corpus=heroes", who=alice)[2]
    assert own_top == [{"name": got["candidates"][0]["name"], "corpus": "heroes", "votes": 1}]
    status, _, refused = call(stack, "GET", "/top?corpus=heroes", who=bob)
    assert status == 400 and "You have no corpus called 'heroes'" in refused["error"]

    for path, body in (
        ("/generate", {"corpus": "heroes"}),
        ("/complete", {"pattern": "s***r", "corpus": "heroes"}),
        ("/like", {"name": "spider", "corpus": "heroes"}),
    ):
        status, _, refused = call(stack, "POST", path, body, who=bob)
        assert status == 400 and "I don't know a corpus called 'heroes'" in refused["error"]
    assert call(stack, "GET", "/corpora/heroes", who=bob)[0] == 404
    assert call(stack, "DELETE", "/corpora/heroes", who=bob)[0] == 404

    owner = owner_of(stack, "heroes")
    store = TeamCorpora(stack["redis"])
    assert store.keys_of(owner, "heroes")
    private = corpus_id(owner, "heroes")
    assert any(r for r in stack["redis"].hkeys("tnaas:arms") if private.encode() in r)
    status, _, deleted = call(stack, "DELETE", "/corpora/heroes", who=alice)
    assert status == 200 and deleted == {"name": "heroes", "impressions": 5 + 5 + 5 + 3}
    assert store.keys_of(owner, "heroes") == [] and store.states(owner) == {}
    assert not any(private.encode() in k for k in stack["redis"].keys("*"))
    assert not any(private.encode() in r for r in stack["redis"].hkeys("tnaas:arms"))
    assert not any(
        m
        for m in VoteStore(stack["redis"]).redis.zrange(VoteStore.SHOWN_KEY, 0, -1)
        if answer["answer_id"].encode() in m
    )
    status, _, gone = call(stack, "POST", "/generate", {"corpus": "heroes"}, who=alice)
    assert status == 400 and "I don't know a corpus called 'heroes'" in gone["error"]


def _snapshot(redis: Redis) -> set[bytes]:
    return {k for k in redis.keys("tnaas:corpus*")}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "pokemon", "names": HEROES}, "built-in"),
        ({"name": "debian", "names": HEROES}, "built-in"),  # a corpus the judge reads counts too
        ({"name": "my heroes", "names": HEROES}, "cannot name a corpus"),
        ({"name": "few", "names": HEROES[:5]}, "at least 20"),
        ({"name": "dupes", "names": ["batman"] * 100}, "duplicates"),
        ({"name": "empty", "names": []}, "empty"),
        ({"name": "emoji", "names": ["🔥🔥"] * 30}, "emoji"),
        ({"name": "many", "names": [f"n{i}" for i in range(50_001)]}, "at most 50,000"),
        ({"name": "nolist", "names": "batman"}, "names"),
        ({"names": HEROES}, "name"),
    ],
    ids=[
        "builtin",
        "judge-only",
        "not-slug",
        "few",
        "duplicates",
        "empty",
        "emoji",
        "too-many",
        "not-a-list",
        "no-name",
    ],
)
def test_bad_uploads_get_a_clear_400_and_change_nothing(stack, body, words):
    who = voter_cookie(stack["base"])
    before = _snapshot(stack["redis"])
    status, _, refused = call(stack, "POST", "/corpora", body, who=who)
    assert status == 400 and words in refused["error"], refused
    assert "/" not in refused["error"].replace("DELETE /api", "")
    assert _snapshot(stack["redis"]) == before


def test_an_upload_over_the_size_cap_is_refused_before_it_is_read(stack):
    before = _snapshot(stack["redis"])
    raw = b'{"name": "big", "names": ["' + b"a" * TEAM_CORPUS_MAX_BODY + b'"]}'
    headers = {"Content-Type": "application/json", "Content-Length": str(len(raw))}
    status, refused = post_while_refused(
        f"{stack['base']}/api/v1/corpora", headers, [raw[i : i + 65536] for i in range(0, len(raw), 65536)]
    )
    assert status == 413 and "larger than" in json.loads(refused)["error"]
    assert _snapshot(stack["redis"]) == before


def test_an_owner_keeps_at_most_twenty_corpora_and_two_uploads_at_once_are_refused(stack):
    who = voter_cookie(stack["base"])
    store = TeamCorpora(stack["redis"])
    status, _, _ = call(stack, "POST", "/corpora", {"name": "c0", "names": HEROES[:20]}, who=who)
    assert status in (200, 202)
    owner = owner_of(stack, "c0")
    for i in range(1, 20):  # the rest as an upload keeps them, untrained: what counts is that they exist
        assert store.begin(owner, f"c{i}", HEROES[:20], f"job{i}", 60)
    status, _, refused = call(stack, "POST", "/corpora", {"name": "one-more", "names": HEROES}, who=who)
    assert status == 400 and "You have 20 corpora" in refused["error"]
    ready(stack, "c0", who)
    stack["redis"].set(store.TRAINING_KEY.format(owner=owner, slug="c0"), "another-upload")  # one in progress
    status, _, refused = call(stack, "POST", "/corpora", {"name": "c0", "names": HEROES}, who=who)
    assert status == 409 and "being trained from another upload" in refused["error"]
    assert store.states(owner)["c0"]["report"]["names"] == 20  # the version answering is untouched
    for i in range(20):
        assert call(stack, "DELETE", f"/corpora/c{i}", who=who)[0] == 200


def tnaas(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tnaas", *args], env=stack["env"], capture_output=True, text=True, timeout=120
    )


def test_the_operators_corpora_are_added_listed_and_removed_on_the_command_line_and_shared_by_all(stack, tmp_path):
    alice, bob = voter_cookie(stack["base"]), voter_cookie(stack["base"])
    listing = tmp_path / "gods.csv"
    listing.write_bytes(b"\xef\xbb\xbfname,source\r\n" + "".join(f"{h},wiki\r\n" for h in HEROES[:150]).encode())
    added = tnaas(stack, "corpus", "add", "Shared-Heroes", str(listing))
    assert added.returncode == 0, added.stderr
    assert "shared-heroes: 150 names (none dropped), model kn3" in added.stdout
    assert "note: read as a table" in added.stdout and "header" in added.stdout
    assert "shared-heroes" in tnaas(stack, "corpus", "list").stdout
    for who in (alice, bob):
        status, _, answer = call(stack, "POST", "/generate", {"corpus": "shared-heroes", "n": 3}, who=who)
        assert status == 200 and len(answer["names"]["candidates"]) == 3
        assert call(stack, "GET", "/corpora/shared-heroes", who=who)[2]["shared"] is True
    assert call(stack, "DELETE", "/corpora/shared-heroes", who=bob)[0] == 404  # not an API client's to delete

    binary = tmp_path / "photo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    refused = tnaas(stack, "corpus", "add", "photos", str(binary))
    assert (
        refused.returncode == 2
        and "binary file" in refused.stderr
        and "photos" not in tnaas(stack, "corpus", "list").stdout
    )
    assert tnaas(stack, "corpus", "add", "pokemon", str(listing)).returncode == 2

    removed = tnaas(stack, "corpus", "rm", "shared-heroes")
    assert removed.returncode == 0 and "Deleted shared-heroes and 6 name(s)" in removed.stdout
    assert TeamCorpora(stack["redis"]).keys_of("operator", "shared-heroes") == []
    status, _, gone = call(stack, "POST", "/generate", {"corpus": "shared-heroes"}, who=alice)
    assert status == 400 and "I don't know a corpus called 'shared-heroes'" in gone["error"]
    assert tnaas(stack, "corpus", "rm", "shared-heroes").returncode == 2


def test_a_worker_killed_mid_training_leaves_the_old_version_serving_and_the_job_is_retried(
    trained_artifacts, tmp_path
):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    env = tnaas_env(
        trained_artifacts,
        REDIS_URL=server.url,
        TNAAS_QUEUE="killed",
        TNAAS_USER_RATE=1000,
        TNAAS_DEFAULT_MODEL="kn3",
        TNAAS_HEARTBEAT="0.2",
        TNAAS_WORKER_SILENT="2",
        TNAAS_API_WAIT="1",  # the upload answers 202 (20,000 names train for seconds), however fast the machine
    )
    connection = Redis.from_url(server.url)
    processes = [start_worker(env, connection)]
    try:
        web, base = start_web(env)
        processes.append(web)
        live = {"base": base, "redis": connection}
        who = voter_cookie(base)
        assert call(live, "POST", "/corpora", {"name": "big", "names": HEROES}, who=who)[0] in (200, 202)
        old = ready(live, "big", who)["version"]
        many = random.Random(2).sample(load_corpus("pypi-words"), 20_000)
        assert call(live, "POST", "/corpora", {"name": "big", "names": many}, who=who)[0] == 202
        owner = owner_of(live, "big")
        job_id = TeamCorpora(connection).states(owner)["big"]["job"]
        wait_until(lambda: Job.fetch(job_id, connection=connection).get_status() == JobStatus.STARTED, what="training")
        os.kill(processes[0].pid, signal.SIGKILL)  # mid-training
        processes[0].wait()
        state = call(live, "GET", "/corpora/big", who=who)[2]
        assert (state["status"], state["version"], state["training"]) == ("ready", old, True)

        processes += [start_worker(env, connection), start_worker(env, connection)]
        status, _, answer = call(live, "POST", "/generate", {"corpus": "big", "n": 3}, who=who)
        assert status == 200 and len(answer["names"]["candidates"]) == 3
        if call(live, "GET", "/corpora/big", who=who)[2]["training"]:
            assert answer["names"]["model_version"] == old  # the old version answers while the new one trains
        done = wait_until(
            lambda: not (s := call(live, "GET", "/corpora/big", who=who)[2])["training"] and s, timeout=120
        )
        assert done["version"] != old and done["report"]["names"] == 20_000 and done["report"]["model"] == "kn4"
        finished = lambda: Job.fetch(job_id, connection=connection).get_status() == JobStatus.FINISHED  # noqa: E731
        wait_until(finished, timeout=10, what="the retried job finished")  # retried, not lost
    finally:
        for process in reversed(processes):
            stop_process(process)
        server.stop()
