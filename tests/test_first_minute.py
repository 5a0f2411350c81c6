"""A stack's first minutes: a first reservoir that the full one replaces, and what is still training said
by /healthz and by the answer to a request for it (never an error page)."""

import logging
import signal
import subprocess
import sys

import pytest
from redis import Redis

from core.artifacts import fingerprint
from core.settings import Settings
from jobs.contracts import GenerateRequest
from jobs.queueing import enqueue, wait_for
from jobs.upkeep import learn_from_first_votes
from jobs.worker import WorkerContext
from models.believability import FIRST_POOL, POOL
from models.registry import ModelRegistry
from models.training import train_believability, train_name_model
from models.training_plan import first_models, first_steps, later_steps, missing, run_step
from store.training import TrainingProgress
from store.votes import Impression, VoteStore
from testkit.processes import (
    SupervisorLog,
    free_port_run,
    http,
    start_web,
    start_worker,
    stop_process,
    tnaas_env,
    wait_until,
)
from tnaas.redis_server import EmbeddedRedis


def test_a_first_reservoir_serves_until_the_full_one_replaces_it(tmp_path, caplog):
    registry = ModelRegistry(tmp_path)
    train_name_model(registry, "cats", "kn3")
    assert train_believability(registry, "cats", "kn3", first=True)[1]
    first = ModelRegistry(tmp_path).reservoir("cats", "kn3")
    assert first.info.params["pool"] == FIRST_POOL and len(first) > 0
    assert not train_believability(registry, "cats", "kn3", first=True)[1]  # up to date: not built twice
    with caplog.at_level(logging.WARNING):
        ModelRegistry(tmp_path).reservoir("cats", "kn3")
    assert "other settings" not in caplog.text  # a first reservoir is this release's, not an outdated one
    assert train_believability(registry, "cats", "kn3")[1]  # the full one, in the background
    full = ModelRegistry(tmp_path).reservoir("cats", "kn3")
    assert full.info.params["pool"] == POOL and len(full) >= len(first)
    assert not train_believability(registry, "cats", "kn3", first=True)[1]  # never replaced by a first one


def test_the_first_steps_are_each_corpus_default_model_and_the_judge():
    steps = [s.what for s in first_steps("kn5")]
    assert steps[0] == "judge" and "pokemon/kn3" in steps and "pypi/kn5" in steps
    assert len(steps) == len(first_models("kn5")) + 1


def test_two_trainers_on_one_artifacts_folder_train_each_step_once(tmp_path):
    step = next(s for s in first_steps("kn5") if s.what == "cats/kn5")
    registry = ModelRegistry(tmp_path)
    assert "cats/kn5" in missing(registry, "kn5")
    assert run_step(registry, step)  # one stack trains it ...
    assert not run_step(ModelRegistry(tmp_path), step)  # ... the other finds it done
    assert "cats/kn5" not in missing(registry, "kn5")


@pytest.fixture
def connection(redis_server):
    return Redis.from_url(redis_server.url)


@pytest.fixture(scope="module")
def first_minute(tmp_path_factory):
    """What a stack has trained at the end of its first minute, for cats: its model kn3 with a first
    reservoir, and the first judge; no other model of cats, no language detector yet."""
    registry = ModelRegistry(tmp_path_factory.mktemp("first"))
    train_name_model(registry, "cats", "kn3", evaluated=False)
    train_believability(registry, "cats", "kn3", first=True)
    assert run_step(registry, next(step for step in first_steps("kn5") if step.what == "judge"))
    return registry.root


def test_what_is_still_training_is_said_by_healthz_and_by_the_answer(redis_server, connection, first_minute):
    """kn5 and the language detector are not trained yet; the stack's trainer says it is on them."""
    TrainingProgress(connection).plan([("language", 30.0), ("cats/kn5", 150.0)])
    settings = Settings(redis_url=redis_server.url, artifacts_dir=first_minute, queue="test")
    env = tnaas_env(first_minute, REDIS_URL=redis_server.url, TNAAS_QUEUE="test", TNAAS_DEFAULT_MODEL="kn3")
    worker = start_worker(env, connection)
    web = None
    try:
        error = wait_for(enqueue(connection, GenerateRequest(corpus="cats", model="kn5"), settings), 10)["error"]
        assert error.startswith("The model kn5 for cats is still training: ready in about 3 min.")
        assert error.endswith("Meanwhile, try one of: kn3.")
        web, base = start_web(env)
        status, _, body = http("POST", f"{base}/api/v1/generate", {"corpus": "cats", "model": "kn5"})
        assert status == 400 and "still training: ready in about" in body["error"], body
        status, _, body = http("POST", f"{base}/api/v1/generate", {"corpus": "cats"})  # no model named: answered
        assert status == 200 and body["names"]["candidates"], body
        status, _, body = http("POST", f"{base}/api/v1/detect", {"text": "snorlax"})
        assert status == 400 and body["error"].startswith("Telling what a name sounds like is still training"), body
        health = http("GET", f"{base}/healthz")[2]
        assert "cats/kn3" in health["training"]["ready"] and set(health["training"]["training"]) == {
            "language",
            "cats/kn5",
        }
        assert any(note.startswith("still training 2 in the background") for note in health["notes"])
        TrainingProgress(connection).finished()
        assert http("GET", f"{base}/healthz")[2]["training"]["training"] == {}
    finally:
        stop_process(worker)
        if web is not None:
            stop_process(web)


def test_two_stacks_on_one_checkout_never_write_each_other_s_files(tmp_path):
    """Each stack learns from its own votes into its own data folder; the corpus models they share stay
    as they were, and one stack's reranker is not the other's."""
    artifacts = tmp_path / "artifacts"
    train_name_model(ModelRegistry(artifacts), "cats", "kn3")
    shared = {p: p.stat().st_mtime_ns for p in artifacts.rglob("*")}
    stacks = {name: Settings(_env_file=None, artifacts_dir=artifacts, data_dir=tmp_path / name) for name in "ab"}
    assert {s.learnt_dir.parent for s in stacks.values()} == {tmp_path / "a", tmp_path / "b"}
    assert {s.snapshot_dir.parent for s in stacks.values()} == {tmp_path / "a", tmp_path / "b"}
    before_b = fingerprint(artifacts, stacks["b"].learnt_dir)
    with EmbeddedRedis(tmp_path / "redis") as server:
        connection = Redis.from_url(server.url)
        store = VoteStore(connection)
        for m in range(3):  # stack a's team votes on three messages: enough for a first reranker
            store.record_impressions(
                [
                    Impression(channel="C", ts=f"{m}.0", index=i, name=f"cat{m}{i}", corpus="cats", model="kn3",
                               model_version="v", requested_by="U", shown_at=float(m))
                    for i in range(1, 6)
                ]
            )  # fmt: skip
            store.vote("C", f"{m}.0", 1, "U", 1)
        a = stacks["a"]
        done = learn_from_first_votes(context=WorkerContext(ModelRegistry(artifacts, a.learnt_dir), "v", connection, a))
    assert done["retrained"] and (a.learnt_dir / "reranker.joblib").exists()
    assert {p: p.stat().st_mtime_ns for p in artifacts.rglob("*")} == shared
    assert ModelRegistry(artifacts, stacks["b"].learnt_dir).optional_estimator("reranker") is None
    assert fingerprint(artifacts, stacks["b"].learnt_dir) == before_b != done["version"]


def test_up_with_nothing_trained_answers_first_and_trains_the_rest_in_the_background(tmp_path):
    """`make run` on a fresh checkout: each corpus' default model first, then the stack serves while the
    rest trains; what is still training is listed, and asking for it says when it will be ready."""
    port = free_port_run(2)
    env = tnaas_env(
        tmp_path / "artifacts", TNAAS_PORT=port, TNAAS_DATA_DIR=tmp_path / "data", TNAAS_WORKERS=1, TNAAS_TRAIN_ON_UP=1
    )
    last = [s.what for s in later_steps("kn5") if "/" in s.what and " " not in s.what][-1]  # trained last
    corpus, model = last.split("/")
    up = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = SupervisorLog(up)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:

        def names():
            try:
                status, _, body = http("POST", f"{base}/generate", {"corpus": "pypi"})
            except OSError:  # not serving yet
                return None
            return body if status == 200 else None

        answered = wait_until(
            names,
            timeout=900,
            interval=0.5,
            what="a first answer from pypi",
        )
        assert answered["names"]["candidates"] and answered["names"]["model"] == "kn5"
        status, _, body = http("POST", f"{base}/generate", {"corpus": corpus, "model": model})
        assert status == 400 and f"The model {model} for {corpus} is still training: ready in about" in body["error"]
        training = http("GET", f"http://127.0.0.1:{port}/healthz")[2]["training"]
        assert "pypi/kn5" in training["ready"] and last in training["training"]
        assert "first models ready in" in log.read()  # the trainer's plan is what /healthz read above
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
