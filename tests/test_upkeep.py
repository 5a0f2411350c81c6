"""Scheduled upkeep: retention purge in the store, the retrain rule, and `tnaas scheduler` enqueuing
both for a real worker, which purges old votes and trains and deploys the reranker from new ones."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from redis import Redis

from core.settings import Settings
from jobs.contracts import GenerateRequest, NamesReply
from jobs.pipeline import impressions
from jobs.queueing import enqueue, wait_for
from jobs.upkeep import learn_from_first_votes, retrain_reason
from jobs.worker import WorkerContext
from models import artifact
from models.artifact import ArtifactInfo
from models.registry import ModelRegistry
from models.reranker import YOUNG_RETRAIN, YOUNG_ROWS, enough_votes, voted_rows
from store.deploys import ModelVersions
from store.votes import Impression, VoteStore
from testkit.processes import start_worker, stop_process, tnaas_env, wait_until
from tnaas.redis_server import EmbeddedRedis, free_port

DAY = 24 * 3600


@pytest.fixture
def connection(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield Redis.from_url(server.url)


def shown(channel: str, ts: str, at: float, n: int = 2) -> list[Impression]:
    return [
        Impression(
            channel=channel, ts=ts, index=i, name=f"name{ts}{i}", corpus="cats", model="kn3", model_version="v",
            requested_by="U-SOMEONE", shown_at=at,
        )
        for i in range(1, n + 1)
    ]  # fmt: skip


def test_purge_forgets_old_impressions_and_their_votes_and_keeps_the_rest(connection):
    store = VoteStore(connection)
    now = time.time()
    store.record_impressions(shown("C1", "1.0", now - 100 * DAY))
    store.record_impressions(shown("C1", "2.0", now - 95 * DAY))
    store.record_impressions(shown("C1", "3.0", now - 1 * DAY))
    for ts in ("1.0", "3.0"):
        store.vote("C1", ts, 1, "U-VOTER", 1)
    assert store.purge_before(now - 90 * DAY, batch=1) == 4  # batches smaller than the purge: still all
    rows = list(store.export())
    assert [(r["ts"], r["index"], r["up"]) for r in rows] == [("3.0", 1, 1), ("3.0", 2, 0)]
    assert store.candidates_on("C1", "1.0") == 0 and store.tally("C1", "1.0") == {}
    assert store.purge_before(now - 90 * DAY) == 0  # run again: nothing more to do


def info(trained_until: float, trained_on: int = YOUNG_ROWS) -> ArtifactInfo:
    metrics = {"trained_until": trained_until, "rows": trained_on}
    return ArtifactInfo(corpus="votes", model="reranker", corpus_hash="x", metrics=metrics)


def rows(start: float, messages: int, voted: bool) -> list[dict]:
    return [
        {"channel": "C", "ts": f"{start + m}", "index": 1, "name": f"n{m}", "corpus": "cats", "model": "kn3",
         "shown_at": start + m, "up": int(voted), "down": 0}
        for m in range(messages)
    ]  # fmt: skip


def test_retrain_is_due_when_enough_new_votes_came_in(tmp_path):
    settings = Settings(_env_file=None, retrain_new_votes=10)
    assert retrain_reason([], None, settings) is None  # nothing voted: nothing to learn
    assert retrain_reason(rows(0, 3, voted=True), None, settings) == "no reranker yet"
    old = rows(0, 50, voted=True)
    assert retrain_reason(old + rows(100, 9, voted=True), info(49), settings) is None
    assert retrain_reason(old + rows(100, 40, voted=False), info(49), settings) is None  # unvoted: no news
    assert "10 impressions on voted messages" in retrain_reason(old + rows(100, 10, voted=True), info(49), settings)


def test_a_young_reranker_is_retrained_after_every_voted_message(tmp_path):
    """A team's first votes say the most about its taste: a reranker trained on few of them is retrained
    as soon as one more message is voted on, not after TNAAS_RETRAIN_NEW_VOTES more impressions."""
    settings = Settings(_env_file=None, retrain_new_votes=60)
    young = info(49, trained_on=20)
    old = rows(0, 50, voted=True)
    assert retrain_reason(old + rows(100, YOUNG_RETRAIN - 1, voted=True), young, settings) is None
    assert retrain_reason(old + rows(100, 40, voted=False), young, settings) is None  # unvoted: no news
    due = retrain_reason(old + rows(100, YOUNG_RETRAIN, voted=True), young, settings)
    assert due == f"{YOUNG_RETRAIN} impressions on voted messages since the last training"
    grown = info(49, trained_on=YOUNG_ROWS)
    assert retrain_reason(old + rows(100, 59, voted=True), grown, settings) is None
    assert retrain_reason(old + rows(100, 60, voted=True), grown, settings) is not None


def test_a_reranker_is_trained_from_a_team_s_first_few_votes():
    """Three voted messages (15 impressions, 3 up-voted) are enough for a first reranker."""
    first = [{"channel": "C", "ts": str(m), "name": f"n{m}{i}", "up": int(i == 0), "down": 0} for m in range(3)
             for i in range(5)]  # fmt: skip
    assert enough_votes(voted_rows(first))[0]
    assert not enough_votes(voted_rows(first[:10]))[0]  # two messages: not yet


def test_the_scheduler_has_workers_purge_old_votes_and_deploy_a_reranker(trained_artifacts, tmp_path):
    artifacts = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, artifacts)  # the workers' own copy of the models
    with EmbeddedRedis(tmp_path / "redis") as server:
        connection = Redis.from_url(server.url)
        env = tnaas_env(
            artifacts,
            REDIS_URL=server.url,
            TNAAS_DEFAULT_MODEL="kn3",
            TNAAS_RETENTION_DAYS=30,
            TNAAS_UPKEEP_INTERVAL=3600,
            TNAAS_LOG_LEVEL="WARNING",
        )
        settings = Settings(_env_file=None, redis_url=server.url, artifacts_dir=artifacts, default_model="kn3")
        worker = start_worker(env, connection)
        scheduler = None
        try:
            store = VoteStore(connection)
            store.record_impressions(shown("C0", "0.5", time.time() - 40 * DAY))  # past the 30-day window
            for i in range(40):  # the team likes short names
                reply = wait_for(enqueue(connection, GenerateRequest(corpus="pokemon", n=5, seed=i), settings), 10)
                store.record_impressions(
                    impressions(NamesReply.model_validate(reply), "C1", f"{i}.0", 5, "U1", "slack")
                )
                for index, candidate in enumerate(reply["candidates"], 1):
                    if len(candidate["name"]) <= 7:
                        store.vote("C1", f"{i}.0", index, "U1", 1)
            scheduler = subprocess.Popen(
                [sys.executable, "-m", "tnaas", "scheduler"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            registry = ModelRegistry(artifacts, Settings(_env_file=None, data_dir=env["TNAAS_DATA_DIR"]).learnt_dir)
            wait_until(lambda: registry.estimator_path("reranker").exists(), timeout=180, what="a reranker")
            wait_until(lambda: store.candidates_on("C0", "0.5") == 0, timeout=60, what="the purge")
            assert len(list(store.export())) == 200  # only the old message went
            reply = wait_until(
                lambda: (
                    r
                    if (r := wait_for(enqueue(connection, GenerateRequest(corpus="pokemon", n=5), settings), 10))[
                        "ranked_by"
                    ].startswith("reranker")
                    else None
                ),
                timeout=60,
                what="the worker to rank with the new reranker",
            )
            version = ModelRegistry(artifacts, registry.learnt).estimator_info("reranker").version
            assert reply["ranked_by"] == f"reranker {version}"
        finally:
            for process in (scheduler, worker):
                if process is not None:
                    stop_process(process)


def test_learning_from_first_votes_trains_a_young_reranker_and_leaves_a_grown_one_alone(connection, tmp_path):
    """The minute job: with a team's first three voted messages it deploys a reranker and publishes a
    version; one more voted message retrains it (young); once grown it returns without reading Redis."""
    settings = Settings(_env_file=None, artifacts_dir=tmp_path, retrain_new_votes=60)
    store = VoteStore(connection)
    names = ["pikachu", "raichu", "bulbasaur", "ivysaur", "venusaur", "charmander", "charmeleon", "squirtle"]

    def voted_message(m: int) -> None:
        shown = [
            Impression(channel="C", ts=f"{m}.0", index=i, name=f"{names[(m + i) % len(names)]}{m}",
                       corpus="pokemon", model="kn3", model_version="v", requested_by="U", shown_at=float(m))
            for i in range(1, 6)
        ]  # fmt: skip
        store.record_impressions(shown)
        store.vote("C", f"{m}.0", 1, "U", 1)

    def learn(models: ModelRegistry, redis) -> dict:
        return learn_from_first_votes(context=WorkerContext(models, "v", redis, settings))

    for m in range(2):
        voted_message(m)
    assert learn(ModelRegistry(tmp_path), connection)["retrained"] is False  # two messages: not yet
    voted_message(2)
    first = learn(ModelRegistry(tmp_path), connection)
    assert first["retrained"] and ModelVersions(connection).published() == first["version"]
    assert ModelRegistry(tmp_path).estimator_info("reranker").metrics["rows"] == 15
    voted_message(3)
    assert learn(ModelRegistry(tmp_path), connection)["retrained"]  # young: after one more voted message
    path = tmp_path / "reranker.joblib"
    reranker, info = artifact.load_estimator(path)
    info.metrics["rows"] = YOUNG_ROWS
    artifact.save_estimator(reranker, info, path)
    voted_message(4)
    nowhere = Redis(port=free_port(), socket_connect_timeout=0.5)  # grown: the votes are not even read
    assert learn(ModelRegistry(tmp_path), nowhere) == {
        "retrained": False,
        "reason": None,
        "message": "",
        "version": None,
    }


def test_the_minute_job_reads_the_impressions_only_when_a_vote_changed(connection, tmp_path):
    """Every minute while no reranker is grown -- on a stack nobody votes on, for ever: a look with no
    vote cast or taken back since the last one reads no impression (Redis counts the LRANGEs)."""
    settings = Settings(_env_file=None, artifacts_dir=tmp_path)
    store = VoteStore(connection)
    for m in range(50):
        store.record_impressions(shown("C", f"{m}.0", at=float(m)))

    def learn() -> dict:
        return learn_from_first_votes(context=WorkerContext(ModelRegistry(tmp_path), "v", connection, settings))

    def reads() -> int:
        return connection.info("commandstats").get("cmdstat_lrange", {}).get("calls", 0)

    before = reads()
    assert learn()["retrained"] is False and reads() > before  # the first look reads them
    before = reads()
    assert learn() == {
        "retrained": False,
        "reason": None,
        "message": "no votes cast or taken back since the last look",
        "version": None,
    }
    assert reads() == before
    store.vote("C", "3.0", 1, "U", 1)
    assert learn()["retrained"] is False and reads() > before  # a vote: read again (one voted message: too few)
    before = reads()
    store.vote("C", "3.0", 1, "U", 1, added=False)  # taken back: that changes the votes too
    learn()
    assert reads() > before
