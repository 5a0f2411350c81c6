"""Votes and impressions on a real redis-server: set semantics, retries, only our messages."""

import json
import time

import pytest
from redis import Redis

from store.events import SeenEvents
from store.votes import Impression, VoteStore, vote_for_reaction
from tnaas.redis_server import EmbeddedRedis


@pytest.fixture
def store(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield VoteStore(Redis.from_url(server.url))
    server.stop()


def shown(store: VoteStore, names: list[str], ts: str = "1700000000.000100") -> None:
    store.record_impressions(
        [
            Impression(
                channel="C1",
                ts=ts,
                index=i,
                name=n,
                corpus="pokemon",
                model="kn5",
                model_version="v1",
                log_prob=-10.0,
                believability=0.5,
                requested_by="U9",
                shown_at=time.time(),
            )
            for i, n in enumerate(names, 1)
        ]
    )


@pytest.mark.parametrize(
    ("reaction", "candidates", "meaning"),
    [
        ("one", 5, (1, 1)),
        ("five", 5, (5, 1)),
        ("six", 5, None),
        ("keycap_ten", 10, (10, 1)),
        ("+1", 1, (1, 1)),
        ("-1", 1, (1, -1)),
        ("+1::skin-tone-3", 1, (1, 1)),
        ("+1", 3, None),
        ("tada", 3, None),
        ("one", 0, None),
    ],
)
def test_what_a_reaction_means(reaction, candidates, meaning):
    assert vote_for_reaction(reaction, candidates) == meaning


def test_votes_have_set_semantics(store):
    shown(store, ["pikachu", "bulbor", "zapdosaur"])
    for _ in range(2):
        store.apply_reaction("C1", "1700000000.000100", "U1", "two", added=True)
    store.apply_reaction("C1", "1700000000.000100", "U2", "two", added=True)
    store.apply_reaction("C1", "1700000000.000100", "U2", "three", added=True)
    assert store.tally("C1", "1700000000.000100") == {2: {"up": 2, "down": 0}, 3: {"up": 1, "down": 0}}
    store.apply_reaction("C1", "1700000000.000100", "U2", "three", added=False)
    assert store.tally("C1", "1700000000.000100") == {2: {"up": 2, "down": 0}}


def test_reactions_on_other_messages_are_not_votes(store):
    shown(store, ["pikachu"])
    assert store.apply_reaction("C1", "1111.2222", "U1", "one", added=True) is None
    assert store.apply_reaction("C2", "1700000000.000100", "U1", "one", added=True) is None


def test_a_retried_event_counts_once(store):
    events = SeenEvents(store.redis)
    assert events.first_time("Ev123")
    assert not events.first_time("Ev123")
    assert events.first_time("Ev124")


def test_export_is_every_impression_with_its_votes_and_reproducible(store):
    shown(store, ["pikachu", "bulbor"], ts="1.1")
    shown(store, ["raichoo"], ts="2.2")
    store.apply_reaction("C1", "1.1", "U1", "two", added=True)
    store.apply_reaction("C1", "2.2", "U1", "-1", added=True)
    rows = list(store.export())
    assert [(r["name"], r["up"], r["down"]) for r in rows] == [("pikachu", 0, 0), ("bulbor", 1, 0), ("raichoo", 0, 1)]
    assert rows[0]["corpus"] == "pokemon" and rows[0]["model_version"] == "v1" and rows[0]["requested_by"] == "U9"
    assert [json.dumps(r, sort_keys=True) for r in store.export()] == [json.dumps(r, sort_keys=True) for r in rows]


def test_rate_limits_per_user_and_per_workspace(store):
    from store.rate_limit import RateLimited, RateLimits

    check_rate = RateLimits(store.redis).check
    for _ in range(3):
        check_rate("T1", "U1", user_limit=3, team_limit=5)
    with pytest.raises(RateLimited, match="you have asked a lot in the last minute"):
        check_rate("T1", "U1", user_limit=3, team_limit=5)
    check_rate("T1", "U2", user_limit=3, team_limit=5)  # another person: fine (5th request for T1)
    with pytest.raises(RateLimited, match="this workspace"):
        check_rate("T1", "U3", user_limit=3, team_limit=5)
    check_rate("T2", "U1", user_limit=3, team_limit=5)  # another workspace: fine


def test_votes_export_cli_writes_json_lines(store, tmp_path):
    import os
    import subprocess
    import sys

    shown(store, ["pikachu", "bulbor"], ts="1.1")
    store.apply_reaction("C1", "1.1", "U1", "one", added=True)
    url = store.redis.connection_pool.connection_kwargs
    env = os.environ | {"REDIS_URL": f"redis://{url['host']}:{url['port']}/0"}
    out = tmp_path / "votes.jsonl"

    def export() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tnaas", "votes", "export", "-o", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return out.read_text()

    first = export()
    assert export() == first  # reproducible: nothing lost or reordered between runs
    rows = [json.loads(line) for line in first.splitlines()]
    assert [(r["name"], r["up"]) for r in rows] == [("pikachu", 1), ("bulbor", 0)]


def test_bandit_counts_generated_candidates_shown_and_up_voted_once_each(store):
    shown(store, ["pikachu", "bulbor", "zapdosaur"], ts="1.1")
    for user in ("U1", "U2"):  # two people like the same candidate: one up-voted impression
        store.apply_reaction("C1", "1.1", user, "two", added=True)
    store.apply_reaction("C1", "1.1", "U1", "three", added=True)
    assert store.arms.counts("model", "pokemon") == {"kn5": (2, 3)}
    assert store.arms.counts("corpus") == {"pokemon": (2, 3)}
    store.apply_reaction("C1", "1.1", "U1", "two", added=False)  # U2 still likes it
    store.apply_reaction("C1", "1.1", "U1", "three", added=False)
    store.apply_reaction("C1", "1.1", "U1", "three", added=False)  # removing twice undoes once
    assert store.arms.counts("model") == {"kn5": (1, 3)}
    store.record_impressions(
        [  # a completion: not a contest between models
            Impression(
                channel="C1",
                ts="2.2",
                index=1,
                name="mojo",
                corpus="pypi",
                model="kn3",
                model_version="v1",
                pattern="mo**",
                shown_at=time.time(),
            )
        ]
    )
    store.apply_reaction("C1", "2.2", "U1", "+1", added=True)
    assert store.arms.counts("model") == {"kn5": (1, 3)} and store.tally("C1", "2.2") == {1: {"up": 1, "down": 0}}


def test_the_bandit_learns_from_names_someone_voted_on_not_from_impressions_alone(store):
    """A message nobody voted on says nothing of its names; the first vote on a message, up or down on any
    of its names, counts all of them as judged, once."""
    shown(store, ["pikachu", "bulbor", "zapdosaur"], ts="1.1")
    shown(store, ["mewtwix", "onixa"], ts="1.2")
    shown(store, ["abra", "kadab"], ts="1.3")
    assert store.arms.evidence("pokemon") == {} and store.arms.counts("model", "pokemon") == {"kn5": (0, 7)}
    store.apply_reaction("C1", "1.1", "U1", "two", added=True)
    store.apply_reaction("C1", "1.1", "U2", "three", added=True)
    store.apply_reaction("C1", "1.1", "U2", "three", added=False)
    assert store.arms.evidence("pokemon") == {"kn5": (1, 3)}
    store.vote("C1", "1.2", 1, "U3", -1, True)  # a down-vote: judged, none up
    assert store.arms.evidence("pokemon") == {"kn5": (1, 5)} and store.arms.evidence("pypi") == {}
    store.redis.hset(store.arms.KEY, mapping={"model:npm:kn3:shown": 40, "model:npm:kn3:up": 4})  # an older release's
    assert store.arms.evidence("npm") == {"kn3": (4, 40)}  # its votes still count, on every name it showed


def test_votes_from_the_web_go_through_the_same_store(store):
    store.record_impressions(
        [
            Impression(
                channel="web",
                ts="r1",
                index=i,
                name=n,
                corpus="npm",
                model="kn5",
                model_version="v1",
                surface="web",
                shown_at=time.time(),
            )
            for i, n in enumerate(["reactly", "vuex"], 1)
        ]
    )
    assert store.vote("web", "r1", 2, "browser-1", 1) and not store.vote("web", "r1", 2, "browser-1", 1)
    assert [(r["name"], r["up"], r["surface"]) for r in store.export()] == [("reactly", 0, "web"), ("vuex", 1, "web")]
    assert store.arms.counts("model", "npm") == {"kn5": (1, 2)}


def test_models_and_top_in_slack_show_the_standings(store):
    from bot.slack.commands import list_things

    assert "no generated names shown yet" in list_things("models", store.redis)
    shown(store, ["pikachu", "bulbor", "zapdosaur", "mewtwoo"], ts="1.1")
    store.apply_reaction("C1", "1.1", "U1", "one", added=True)
    text = list_things("models", store.redis)
    assert "• kn5: 33% (" in text and "1/4 up-voted" in text  # Beta(2, 4): mean 1/3
    top = list_things("top", store.redis)
    assert "pikachu (pokemon, 1)" in top and "• pokemon: 33%" in top
