"""What a stack learns at run time lives in Redis, not on one machine's disk: a worker started on a new
machine (an empty data directory, only the image's artifacts) serves with the reranker another machine
learnt, and holds the same model version as the one published."""

from __future__ import annotations

from redis import Redis

from core.artifacts import fingerprint
from core.settings import Settings
from jobs.contracts import GenerateRequest
from jobs.queueing import enqueue, wait_for
from jobs.upkeep import learn_from_first_votes
from jobs.worker import WorkerContext
from models.registry import ModelRegistry
from store.deploys import ModelVersions
from store.learnt import LearntModels
from store.votes import Impression, VoteStore
from testkit.processes import start_worker, stop_process, tnaas_env

NAMES = ["pikachu", "raichu", "bulbasaur", "ivysaur", "venusaur", "charmander", "charmeleon", "squirtle"]


def voted_messages(store: VoteStore, count: int) -> None:
    for m in range(count):
        store.record_impressions(
            [
                Impression(channel="C", ts=f"{m}.0", index=i, name=f"{NAMES[(m + i) % len(NAMES)]}{m}",
                           corpus="pokemon", model="kn3", model_version="v", requested_by="U", shown_at=float(m))
                for i in range(1, 6)
            ]
        )  # fmt: skip
        store.vote("C", f"{m}.0", 1, "U", 1)


def test_a_worker_with_an_empty_data_dir_serves_with_the_reranker_another_machine_learnt(
    trained_artifacts, tmp_path, redis_server
):
    connection = Redis.from_url(redis_server.url)
    machine_a = Settings(
        _env_file=None, redis_url=redis_server.url, artifacts_dir=trained_artifacts, data_dir=tmp_path / "a"
    )
    voted_messages(VoteStore(connection), 3)
    learnt = learn_from_first_votes(
        context=WorkerContext(ModelRegistry(trained_artifacts, machine_a.learnt_dir), "v", connection, machine_a)
    )
    assert learnt["retrained"]
    version = ModelRegistry(trained_artifacts, machine_a.learnt_dir).estimator_info("reranker").version
    machine_b = tmp_path / "b"
    assert not machine_b.exists()
    env = tnaas_env(
        trained_artifacts,
        REDIS_URL=redis_server.url,
        TNAAS_DATA_DIR=machine_b,
        TNAAS_DEFAULT_MODEL="kn3",
        TNAAS_LOG_LEVEL="WARNING",
    )
    worker = start_worker(env, connection)
    try:
        settings = Settings(_env_file=None, redis_url=redis_server.url, artifacts_dir=trained_artifacts)
        reply = wait_for(enqueue(connection, GenerateRequest(corpus="pokemon", n=5, seed=1), settings), 30)
        assert reply["ranked_by"] == f"reranker {version}"
        kept = (machine_b / "learnt" / "reranker.joblib").read_bytes()
        assert kept == (machine_a.learnt_dir / "reranker.joblib").read_bytes()
        held = ModelVersions(connection).held()
        assert set(held.values()) == {ModelVersions(connection).published()} == {learnt["version"]}
    finally:
        stop_process(worker)


def test_a_reranker_only_one_machine_has_is_shared_and_every_machine_computes_the_same_version(redis_server, tmp_path):
    """A stack that learnt before the reranker was kept in Redis: the first process to start shares its
    file; the copy another machine writes has its size and time, so both publish one version."""
    connection = Redis.from_url(redis_server.url)
    artifacts, a, b = tmp_path / "artifacts", tmp_path / "a", tmp_path / "b"
    artifacts.mkdir()
    a.mkdir()
    (a / "reranker.joblib").write_bytes(b"learnt on machine a")
    LearntModels(connection).share(a)
    LearntModels(connection).share(b)
    assert (b / "reranker.joblib").read_bytes() == b"learnt on machine a"
    assert fingerprint(artifacts, b) == fingerprint(artifacts, a) != fingerprint(artifacts, tmp_path / "c")
    assert LearntModels(connection).fetch(b / "reranker.joblib") is False  # the same file: not written again
