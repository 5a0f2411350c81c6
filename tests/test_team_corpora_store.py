"""Team corpora in a real Redis: one upload at a time, versions replaced atomically, a delete wins over a
training that finishes after it; and a worker's cache: loaded on first use, a new version picked up,
least recently used let go under its memory budget."""

from __future__ import annotations

import random
import time

import pytest
from redis import Redis

from core.errors import TNaaSError, UnknownCorpus
from core.settings import Settings
from corpora import load_corpus
from jobs.contracts import CorpusJob
from jobs.tasks import train_and_publish
from jobs.team_models import TeamModels
from models.team_corpus import MODEL_BY_SIZE, model_for_size, train_team_corpus
from store.arms import ArmCounts
from store.team_corpora import NO_ROOM, OPERATOR, TeamCorpora, corpus_id, owner_key
from store.votes import Impression, VoteStore

SETTINGS = Settings(_env_file=None)
HEROES = random.Random(1).sample(load_corpus("superheroes"), 120)
CATS = load_corpus("cats")


@pytest.fixture
def store(redis_server) -> TeamCorpora:
    return TeamCorpora(Redis.from_url(redis_server.url))


def test_the_model_is_chosen_by_the_lists_size():
    assert [model_for_size(n) for n in (20, 55, 56, 170, 171, 550, 551, 10_000, 10_001, 50_000)] == [
        "kn1", "kn1", "kn3", "kn3", "kn4", "kn4", "kn5", "kn5", "kn4", "kn4"
    ]  # fmt: skip
    assert MODEL_BY_SIZE[-1][0] is None


def test_owners_are_hashed_and_private_ids_never_collide():
    alice, bob = owner_key("web-alice"), owner_key("web-bob")
    assert alice != bob and "alice" not in alice and owner_key(OPERATOR) == OPERATOR
    assert corpus_id(alice, "rivers") != corpus_id(bob, "rivers")
    assert corpus_id(OPERATOR, "rivers") == "rivers"


def test_one_upload_at_a_time_and_a_new_version_replaces_the_old_in_one_step(store):
    assert store.begin("o", "heroes", HEROES, "job1", 60, {"dropped": {"duplicates": 2}})
    assert not store.begin("o", "heroes", HEROES, "job2", 60)  # the second upload, while the first trains
    assert store.states("o")["heroes"]["status"] == "training"
    first = train_and_publish(store, CorpusJob(owner="o", corpus="heroes"), SETTINGS)
    assert first["status"] == "ready" and first["report"]["dropped"] == {"duplicates": 2}
    version = store.version("o", "heroes")
    assert store.states("o")["heroes"]["version"] == version and store.training_job("o", "heroes") is None

    assert store.begin("o", "heroes", HEROES[:60], "job3", 60)  # a replacement: the old version answers meanwhile
    assert store.version("o", "heroes") == version and store.states("o")["heroes"]["status"] == "ready"
    train_and_publish(store, CorpusJob(owner="o", corpus="heroes"), SETTINGS)
    assert store.version("o", "heroes") not in (None, version)
    assert store.states("o")["heroes"]["report"]["names"] == 60


def test_a_delete_while_training_wins_and_nothing_is_published(store):
    assert store.begin("o", "cats", CATS, "job1", 60)
    trained = train_team_corpus("cats", CATS)
    assert store.delete("o", "cats")
    assert not store.publish("o", "cats", trained.version, trained.model, trained.reservoir, {})
    assert store.keys_of("o", "cats") == [] and store.states("o") == {}


def test_a_failed_training_leaves_the_served_version_and_says_why(store):
    assert store.begin("o", "cats", CATS, "job1", 60)
    train_and_publish(store, CorpusJob(owner="o", corpus="cats"), SETTINGS)
    version = store.version("o", "cats")
    assert store.begin("o", "cats", CATS[:50], "job2", 60)
    store.failed("o", "cats", "Training failed on our side: send the list again.")
    state = store.states("o")["cats"]
    assert state["status"] == "ready" and state["error"].startswith("Training failed") and not state["training"]
    assert store.version("o", "cats") == version and store.training_job("o", "cats") is None


def test_an_upload_that_could_not_be_queued_leaves_nothing(store):
    assert store.begin("o", "cats", CATS, "job1", 60)
    store.abort("o", "cats", "job1")
    assert store.states("o") == {} and store.keys_of("o", "cats") == []


def test_what_an_owner_sees_is_its_own_then_the_operators(store):
    for owner, slug in (("a", "mine"), (OPERATOR, "shared"), (OPERATOR, "mine"), ("b", "theirs")):
        store.begin(owner, slug, CATS, f"{owner}{slug}", 60)
    assert {slug: by for slug, (by, _) in store.visible("a").items()} == {"mine": "a", "shared": OPERATOR}
    assert store.resolve("a", "mine") == "a" and store.resolve("a", "theirs") is None
    assert store.resolve("b", "shared") == OPERATOR


def test_a_worker_loads_on_first_use_picks_up_new_versions_and_lets_the_least_used_go(store, tmp_path):
    for slug, names in (("heroes", HEROES), ("cats", CATS), ("dogs", load_corpus("dogs"))):
        store.begin("o", slug, names, slug, 60)
        train_and_publish(store, CorpusJob(owner="o", corpus=slug), SETTINGS)
    sizes = {slug: sum(len(b) for b in store.artifacts("o", slug)[1:]) for slug in ("heroes", "cats", "dogs")}
    team = TeamModels(store, Settings(data_dir=tmp_path, team_corpus_memory_mb=1), folder=tmp_path / "cache")
    team.budget = sizes["heroes"] + max(sizes["cats"], sizes["dogs"])  # room for heroes and one other
    heroes = team.get("o", "heroes")
    assert heroes.info.model == model_for_size(len(HEROES)) and len(heroes.reservoir) > 0
    assert team.get("o", "heroes") is heroes  # loaded once
    team.get("o", "cats")
    team.get("o", "heroes")  # heroes used last: cats is the least recently used
    team.get("o", "dogs")
    assert team.loaded() == [("o", "heroes"), ("o", "dogs")] and team.held <= team.budget
    assert not (tmp_path / "cache" / "o" / "cats" / store.version("o", "cats")).exists()

    store.begin("o", "heroes", HEROES[:80], "again", 60)
    train_and_publish(store, CorpusJob(owner="o", corpus="heroes"), SETTINGS)
    assert team.get("o", "heroes").version == store.version("o", "heroes") != heroes.version

    store.delete("o", "dogs")
    with pytest.raises(UnknownCorpus):
        team.get("o", "dogs")
    store.begin("o", "new", CATS, "new", 60)
    with pytest.raises(TNaaSError, match="still training"):
        team.get("o", "new")


def shown(ts: str, corpus: str, names: list[str], team: str | None = None) -> list[Impression]:
    return [
        Impression(channel="C1", ts=ts, index=i, name=n, corpus=corpus, model="kn3", model_version="v",
                   team=team, shown_at=time.time())
        for i, n in enumerate(names, 1)
    ]  # fmt: skip


def test_a_private_corpus_votes_stay_its_owners_and_go_with_it(store):
    votes, private = VoteStore(store.redis), corpus_id(owner_key("web-alice"), "rivers")
    votes.record_impressions(shown("1.1", private, ["nilex", "rhinor"], team="T1"))
    votes.record_impressions(shown("2.2", "cats", ["tom"], team="T1"))
    for ts in ("1.1", "2.2"):
        votes.vote("C1", ts, 1, "U1", 1)
    assert [t.name for t in votes.top()] == ["tom"] and [t.name for t in votes.top(team="T1")] == ["tom"]
    assert store.redis.zrange(VoteStore.TOP_KEY.format(scope=f"corpus:{private}"), 0, -1) == [
        b"nilex\x00" + private.encode()
    ]
    assert {r["corpus"] for r in votes.export()} == {"cats"}  # never the reranker's data
    arms = ArmCounts(store.redis)
    assert "rivers" not in str(arms.counts("corpus")) and arms.counts("model", private)
    assert arms.counts("model") == arms.counts("model", "cats")  # the shared standings count no private corpus
    assert votes.forget_corpus(private) == 2
    assert votes.name_of("C1", "1.1", 1) is None and votes.name_of("C1", "2.2", 1) == "tom"
    assert not [k for k in store.redis.keys("*") if private.encode() in k]
    assert not [f for f in store.redis.hkeys(ArmCounts.KEY) if private.encode() in f]


def test_team_corpora_together_stay_within_their_share_of_redis(store):
    assert store.begin("o", "cats", CATS, "job1", 60)
    assert store.stored_bytes() == len("\n".join(CATS).encode())
    assert train_and_publish(store, CorpusJob(owner="o", corpus="cats"), SETTINGS)["status"] == "ready"
    model, reservoir = store.artifacts("o", "cats")[1:]
    assert store.stored_bytes() == len("\n".join(CATS).encode()) + len(model) + len(reservoir)
    assert store.begin("o", "heroes", HEROES, "job2", 60)
    tight = Settings(_env_file=None, team_corpora_mb=1)  # no room for a second one
    assert train_and_publish(store, CorpusJob(owner="o", corpus="heroes"), tight)["status"] == "failed"
    assert store.states("o")["heroes"]["error"] == NO_ROOM and store.version("o", "heroes") is None
    for slug in ("cats", "heroes"):
        store.delete("o", slug)
    assert store.stored_bytes() == 0
