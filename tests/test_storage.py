"""Bounded storage on a real redis-server: requests nobody voted on expire, every key has a TTL or a bound
(and the key table in store/__init__.py says which), Redis is capped and evicts only what may go, the
best-voted names are one read of a sorted set kept with the votes, and Home tab openings queue one
publish per person at a time."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest
import yaml
from redis import Redis
from rq import Queue
from slack_sdk.oauth.installation_store import Installation

import store
from bot.slack.batching import enqueue_home
from core.limits import REDIS_EVICTION_POLICY, UNVOTED_KEEP
from core.settings import Settings
from jobs.contracts import HomeJob
from store.answers import Answers
from store.arms import ArmCounts
from store.availability import AvailabilityCache
from store.claims import Claims
from store.deploys import ModelVersions
from store.events import SeenEvents, SeenRequests
from store.home_tabs import HomeTabs
from store.installations import RedisInstallationStore, RedisOAuthStateStore
from store.rate_limit import RateLimits
from store.replies import ReplyProgress
from store.signing import SigningKeys
from store.slack_batches import SlackBatches
from store.slack_teams import TeamHabits
from store.team_corpora import TeamCorpora
from store.voters import VoterBatches
from store.votes import Impression, TopName, VoteStore
from tnaas.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
DAY = 24 * 3600


@pytest.fixture
def connection(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield Redis.from_url(server.url)


def shown(ts: str, names: list[str], team: str | None = None, user: str = "U1", at: float | None = None):
    at = at or time.time()  # one request: its candidates are shown together
    return [
        Impression(
            channel="C1", ts=ts, index=i, name=n, corpus="cats", model="kn3", model_version="v", requested_by=user,
            team=team, judge={"cats": 0.9, "dogs": 0.1}, nll={"kn3": 2.1}, shown_at=at,
        )
        for i, n in enumerate(names, 1)
    ]  # fmt: skip


def test_requests_nobody_voted_on_expire_and_voted_ones_are_kept(connection):
    votes = VoteStore(connection)
    votes.record_impressions(shown("1.1", ["tom", "felix"]))
    votes.record_impressions(shown("2.2", ["rex"]))
    votes.vote("C1", "2.2", 1, "U2", 1)
    assert 0 < connection.ttl(votes.MESSAGE_KEY.format(channel="C1", ts="1.1")) <= UNVOTED_KEEP  # unvoted: expires
    assert connection.ttl(votes.MESSAGE_KEY.format(channel="C1", ts="2.2")) == -1  # voted: kept until the purge
    a_week_ago = time.time() - UNVOTED_KEEP - 60
    with connection.pipeline() as pipe:  # shown (and kept) over a week ago, nobody voted: already gone
        for command in votes.impression_commands(shown("0.5", ["old", "older"], at=a_week_ago), now=a_week_ago):
            pipe.execute_command(*command)
        pipe.execute()
    assert votes.candidates_on("C1", "0.5") == 0 and votes.impression_count() == 5
    assert [r["ts"] for r in votes.export()] == ["1.1", "1.1", "2.2"]
    assert votes.purge_before(time.time() - 90 * DAY) == 2  # its index entry goes at the next purge
    assert votes.impression_count() == 3 and connection.zcard(votes.SHOWN_KEY) == 2
    assert [(r["name"], r["up"]) for r in votes.export()] == [("tom", 0), ("felix", 0), ("rex", 1)]


def test_a_request_keeps_its_fields_once_and_exports_them_with_every_row(connection):
    votes = VoteStore(connection)
    rows = shown("1.1", ["tom", "felix"], team="T1")
    votes.record_impressions(rows)
    assert [{k: r[k] for k in r if k not in ("up", "down")} for r in votes.export()] == [
        json.loads(r.model_dump_json()) for r in rows
    ]
    mark, *kept = connection.lrange(votes.MESSAGE_KEY.format(channel="C1", ts="1.1"), 0, -1)
    assert json.loads(mark)["request"]["requested_by"] == "U1" and json.loads(mark)["names"] == ["tom", "felix"]
    assert [json.loads(raw) for raw in kept] == [[None, None, None, [0.9, 0.1], [2.1], 0, 0]] * 2  # their own


def test_top_is_one_read_of_a_sorted_set_whatever_the_rows(connection):
    votes = VoteStore(connection)
    with connection.pipeline(transaction=False) as pipe:
        for m in range(2000):
            for command in votes.impression_commands(shown(f"{m}.0", [f"n{m}a", f"n{m}b", f"n{m}c"], team="T1")):
                pipe.execute_command(*command)
        pipe.execute()
    for m in range(0, 2000, 100):
        votes.vote("C1", f"{m}.0", 1, "U1", 1)
    votes.vote("C1", "0.0", 1, "U2", 1)
    connection.config_resetstat()
    assert votes.top(limit=3) == [("n0a", "cats", 2), ("n1000a", "cats", 1), ("n100a", "cats", 1)]
    assert votes.top(limit=3, team="T1") == votes.top(limit=3) and votes.top(team="T2") == []
    stats = connection.info("commandstats")  # four calls, one command each: no row read
    assert {k: v["calls"] for k, v in stats.items() if k != "cmdstat_config"} == {"cmdstat_zrangebyscore": 4}


def recount(votes: VoteStore, team: str | None = None) -> list[TopName]:
    """The best-voted names as /top read them before: every row kept, with its people up and down."""
    net: dict[tuple[str, str], int] = {}
    for row in votes.export():
        if team is None or row["team"] == team:
            net[(row["name"], row["corpus"])] = net.get((row["name"], row["corpus"]), 0) + row["up"] - row["down"]
    ranked = sorted(
        (TopName(n, c, v) for (n, c), v in net.items() if v > 0), key=lambda t: (-t.votes, t.name, t.corpus)
    )
    return ranked[:10]


def test_the_best_voted_sets_agree_with_the_rows_through_votes_forgetting_and_purges(connection):
    """Random votes up and down, taken back, on names shown twice and in two teams, a person forgotten,
    old requests purged: the sorted sets always say what a count over every row says."""
    votes, rng = VoteStore(connection), random.Random(7)
    now = time.time()
    for m in range(30):
        names = rng.sample(["tom", "felix", "rex", "kitty", "luna", "max"], 3)
        votes.record_impressions(shown(f"{m}.0", names, team=f"T{m % 2}", user=f"U{m % 4}", at=now - m * DAY))
    for step in range(600):
        m, index, user = rng.randrange(30), rng.randint(1, 3), f"U{rng.randrange(8)}"
        votes.vote("C1", f"{m}.0", index, user, rng.choice([1, -1]), added=rng.random() < 0.7)
        if step in (200, 400):
            assert votes.top() == recount(votes) and votes.top(team="T1") == recount(votes, "T1")
    assert votes.top() == recount(votes)
    votes.forget_user("U3")
    assert votes.top() == recount(votes) and votes.top(team="T0") == recount(votes, "T0")
    old = sum(1 for row in votes.export() if row["shown_at"] < now - 20 * DAY)
    assert votes.purge_before(now - 20 * DAY) == old > 0
    assert votes.top() == recount(votes) and votes.top(team="T1") == recount(votes, "T1")
    kept = votes.impression_count()
    assert votes.purge_before(now + 1) == kept and votes.top() == [] and votes.top(team="T0") == []


def test_every_key_has_a_ttl_or_a_bound_and_the_key_table_names_it(connection):
    """Each store class writes its keys; every key without a TTL is of a kind the table bounds otherwise
    (a purge, people, a count), and every key's prefix is in store/__init__.py's table."""
    votes = VoteStore(connection)
    votes.record_impressions(shown("1.1", ["tom", "felix"], team="T1"))
    votes.record_impressions(shown("2.2", ["rex"]))
    votes.vote("C1", "1.1", 1, "U1", 1)
    votes.learnt(votes.unseen_changes() or 0)
    batches = VoterBatches(connection)
    for i in range(8):
        tag_batch = batches.batch("tag", batches.window(time.time()), time.time())
        batches.issue("tag", time.time())
        votes.vote("C1", "2.2", 1, f"web-{i}", 1, batch=tag_batch)
    SeenEvents(connection).first_time("Ev1")
    SeenRequests(connection).first_time("v0=abc")
    ReplyProgress(connection, "job1").done("posted")
    habits = TeamHabits(connection)
    habits.keycap_vote("T1", "U1")
    habits.seeds("T1", 3)
    habits.pause("T1", 5)
    HomeTabs(connection).ask("T1", "U1")
    installations = RedisInstallationStore(connection)
    installations.save(
        Installation(app_id="A1", team_id="T1", bot_token="xoxb-1", bot_id="B1", bot_user_id="UB", user_id="U1")
    )
    with installations.rotation_lock(None, "T1"):
        RedisOAuthStateStore(connection).issue()
        held = set(connection.keys("tnaas:slack:rotation:*"))
    batch_pipe = connection.pipeline()
    SlackBatches(connection).start(batch_pipe, "b1", b"{}")
    batch_pipe.execute()
    RateLimits(connection).check("T1", "U1", 10, 10)
    ModelVersions(connection).publish("v1")
    ModelVersions(connection).report("worker-1", "v1")
    Claims(connection).claim("job1", 60)
    answers = Answers(connection)
    answers.assign(connection, ["a1"], "job1", 60)
    answers.keep_and_deliver("job1", {"a1": b"{}"}, {}, 60, 10)
    SigningKeys(connection).get_or_create("voter-cookie")
    AvailabilityCache(connection, ttl=60).put_many("pypi", {"tom": ("free", "")})
    ArmCounts(connection).add_up("cats", "kn3", 1)
    corpora = TeamCorpora(connection)
    corpora.begin("owner1", "rivers", ["nile", "rhine"], "job2", 60)
    corpora.begin("owner1", "lakes", ["ohrid"], "job3", 60)  # training: its job holds it
    corpora.publish("owner1", "rivers", "v1", b"model", b"reservoir", {})

    bounded_otherwise = {  # no TTL: never evicted; bounded by the retention purge, people, a count or one key
        "tnaas:impression:", "tnaas:votes:", "tnaas:counted:", "tnaas:tally:", "tnaas:shown",
        "tnaas:unvoted", "tnaas:impressions-kept", "tnaas:top:", "tnaas:vote-changes", "tnaas:voters-bulk",
        "tnaas:arms", "tnaas:team:T1:keycap_voters", "tnaas:slack:installation:", "tnaas:slack:bot:",
        "tnaas:slack:teams", "tnaas:models:version", "tnaas:workers:models", "tnaas:secret:",
        "tnaas:corpora:", "tnaas:corpus-names:", "tnaas:corpus-model:", "tnaas:corpora-bytes",
    }  # fmt: skip
    table = re.findall(r"``(tnaas:[^`]*)``", store.__doc__)
    keys = {k.decode() for k in connection.scan_iter(match="tnaas:*")} | {k.decode() for k in held}
    assert len(keys) > 30
    for key in keys:
        assert any(key.startswith(prefix) for prefix in table), f"{key} is not in store/__init__.py's key table"
        if connection.ttl(key) == -1:
            assert any(key.startswith(prefix) for prefix in bounded_otherwise), f"{key} has no TTL and no bound"
    assert connection.ttl(votes.MESSAGE_KEY.format(channel="C1", ts="1.1")) == -1  # voted
    assert connection.ttl(votes.MESSAGE_KEY.format(channel="C1", ts="2.2")) == -1  # voted too (by the web)
    for i in range(10):
        habits.keycap_vote("T1", f"U{i}")
    assert connection.scard("tnaas:team:T1:keycap_voters") == 5 and habits.knows_keycaps("T1")


def test_redis_is_capped_and_under_pressure_evicts_requests_nobody_voted_on_never_votes(tmp_path):
    with EmbeddedRedis(tmp_path / "redis", maxmemory="4mb") as server:
        connection = Redis.from_url(server.url)
        assert connection.config_get("maxmemory-policy") == {"maxmemory-policy": REDIS_EVICTION_POLICY}
        assert connection.config_get("maxmemory") == {"maxmemory": str(4 * 2**20)}
        votes = VoteStore(connection)
        for m in range(20):
            votes.record_impressions(shown(f"{m}.0", [f"voted{m}", "b", "c"]))
            votes.vote("C1", f"{m}.0", 1, "U1", 1)
        top = votes.top()
        m = 20
        while connection.info("stats")["evicted_keys"] < 100 and m < 50_000:
            with connection.pipeline(transaction=False) as pipe:
                for k in range(m, m + 100):
                    for command in votes.impression_commands(shown(f"{k}.0", [f"n{k}", "b", "c"] * 3)):
                        pipe.execute_command(*command)
                pipe.execute()
            m += 100
        assert connection.info("stats")["evicted_keys"] >= 100
        assert all(votes.name_of("C1", f"{k}.0", 1) == f"voted{k}" for k in range(20))
        assert all(votes.tally("C1", f"{k}.0") == {1: {"up": 1, "down": 0}} for k in range(20))
        assert votes.top() == top and votes.arms.counts("model") == {"kn3": (20, 60 + (m - 20) * 9)}
        assert sum(votes.candidates_on("C1", f"{k}.0") > 0 for k in range(20, m)) < m - 20  # some went


def test_the_compose_redis_is_capped_as_the_embedded_one(tmp_path):
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2]))
    assert options["--maxmemory-policy"] == REDIS_EVICTION_POLICY
    assert options["--maxmemory"] == f"${{TNAAS_REDIS_MAXMEMORY:-{Settings(_env_file=None).redis_maxmemory}}}"
    line = EmbeddedRedis(tmp_path / "redis").command()
    assert line[line.index("--maxmemory") + 1] == Settings(_env_file=None).redis_maxmemory


def test_home_tab_openings_queue_one_publish_per_person_at_a_time(connection):
    settings = Settings(_env_file=None, queue="home")
    home = HomeJob(team="T1", user="U8")
    jobs = [enqueue_home(connection, home, settings) for _ in range(40)]
    assert len([j for j in jobs if j is not None]) == 1 and Queue("home", connection=connection).count == 1
    assert enqueue_home(connection, HomeJob(team="T1", user="U9"), settings) is not None  # another person
    HomeTabs(connection).started("T1", "U8")  # the job runs: an opening from now on is published again
    assert enqueue_home(connection, home, settings) is not None and Queue("home", connection=connection).count == 3


def test_the_first_upkeep_moves_the_layout_before_into_today_s(connection):
    """Impressions in one list, up-votes per candidate and votes keyed by voter (the layout before):
    ``upgrade`` moves them, counts every vote, and leaves the bandit's counters as they were."""
    votes = VoteStore(connection)
    old = shown("1.1", ["tom", "felix"], team="T1") + shown("2.2", ["rex"], at=time.time() - 30 * DAY)
    connection.rpush(votes.IMPRESSIONS_KEY, *(r.model_dump_json() for r in old))
    for ts, rows in (("1.1", old[:2]), ("2.2", old[2:])):
        mark = {"candidates": len(rows), "names": json.dumps([r.name for r in rows]), "corpus": "cats"}
        connection.hset(votes.LEGACY_MESSAGE_KEY.format(channel="C1", ts=ts), mapping=mark | {"model": "kn3"})
    connection.hset(votes.VOTES_KEY.format(channel="C1", ts="1.1"), mapping={"2:U1:1": 1, "2:U2:1": 2, "1:U1:-1": 3})
    connection.hset(votes.LEGACY_UPS_KEY.format(channel="C1", ts="1.1"), "2", 2)
    connection.hset(ArmCounts.KEY, mapping={"model:cats:kn3:shown": 3, "model:cats:kn3:up": 1})
    assert votes.upgrade() == 2 and votes.upgrade() == 0
    assert [(r["name"], r["up"], r["down"]) for r in votes.export()] == [("tom", 0, 1), ("felix", 2, 0)]
    assert votes.top() == [("felix", "cats", 2)] and votes.top(team="T1") == [("felix", "cats", 2)]
    assert votes.arms.counts("model") == {"kn3": (1, 3)}
    assert not connection.exists(votes.IMPRESSIONS_KEY, votes.LEGACY_UPS_KEY.format(channel="C1", ts="1.1"))
    assert votes.candidates_on("C1", "2.2") == 0  # unvoted and shown 30 days ago: expired with the move ...
    assert votes.purge_before(time.time() - 90 * DAY) == 1 and votes.impression_count() == 2  # ... its entry too
    assert votes.vote("C1", "1.1", 2, "U1", 1, added=False) and votes.top() == [("felix", "cats", 1)]
