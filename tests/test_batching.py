"""API requests batched into one job, and answers pushed to the waiting web process (no polling),
on the real stack: a redis-server, `tnaas web` and `tnaas worker` processes, stopped and killed by pid."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import orjson
import redis.asyncio
from redis import Redis
from rq.job import Job, JobStatus

from core.settings import Settings
from jobs.contracts import GenerateRequest, WebItem
from jobs.queueing import enqueue_web_batch, queue
from store.answers import Answers
from store.votes import VoteStore
from testkit.processes import http, start_web, start_worker, stop_process, tnaas_env, wait_until

FAST = {
    "TNAAS_HEARTBEAT": "0.2",
    "TNAAS_WORKER_SILENT": "2",
    "TNAAS_DEFAULT_MODEL": "kn3",
    "TNAAS_LOG_LEVEL": "WARNING",
    "TNAAS_USER_RATE": "1000",
    "TNAAS_BATCH_WAIT": "0.05",  # wide enough that requests sent together surely meet in one batch
}


def generate(base: str, seed: int, n: int = 3, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else None
    return http(
        "POST", f"{base}/api/v1/generate", {"corpus": "pokemon", "model": "kn3", "n": n, "seed": seed}, headers=headers
    )


def queued(connection: Redis) -> int:
    """API requests sent to the workers so far (several may share a job)."""
    return len(connection.keys(Answers.JOB.format(answer_id="*")))


def names_of(answer: dict) -> list[str]:
    return [c["name"] for c in answer["names"]["candidates"]]


def test_requests_sent_together_share_a_job_yet_each_gets_its_own_answer_impressions_and_seed(
    trained_artifacts, redis_server
):
    env = tnaas_env(
        trained_artifacts,
        REDIS_URL=redis_server.url,
        TNAAS_QUEUE="batch",
        TNAAS_API_WAIT=20,
        TNAAS_BATCH_IN_FLIGHT=1,  # one job on its way, then the others are held back to go together
        **FAST,
    )
    connection = Redis.from_url(redis_server.url)
    worker = start_worker(env, connection)
    web, base = start_web(env)
    try:
        alone = {seed: names_of(generate(base, seed)[2]) for seed in (11, 12, 13, 14)}
        os.kill(worker.pid, signal.SIGSTOP)  # the first request's job waits: the others gather behind it
        with ThreadPoolExecutor(5) as pool:
            first = pool.submit(generate, base, 11)
            # queued requests, counted by their answer ids (a stopped worker may already hold the job)
            wait_until(lambda: queued(connection) == 4 + 1, timeout=10, what="the first job queued")
            together = [pool.submit(generate, base, s) for s in (12, 13, 14, 12)]
            wait_until(lambda: queued(connection) == 4 + 5, timeout=10, what="the other four queued")
            os.kill(worker.pid, signal.SIGCONT)
            answers = [f.result(timeout=40) for f in [first, *together]]
        assert [status for status, _, _ in answers] == [200] * 5
        ids = [a["answer_id"] for _, _, a in answers]
        assert len(set(ids)) == 5  # each request its own answer id, the twin seeds included
        jobs = [Answers(connection).job_of(i) for i in ids]
        assert len(set(jobs[1:])) == 1 and jobs[0] != jobs[1]  # the four sent together went as one job
        for (_, _, answer), seed in zip(answers, (11, 12, 13, 14, 12)):
            assert names_of(answer) == alone[seed]  # a seed gives the same names, batched or not
        exported = list(VoteStore(connection).export())
        for answer_id in ids:
            assert len([r for r in exported if r["ts"] == answer_id]) == 3  # its own impressions, one per name
        status, _, tally = http(
            "POST", f"{base}/api/v1/votes", {"answer_id": ids[3], "index": 2, "direction": 1}, headers={}
        )
        assert status == 200 and tally["up"] == 1
        status, _, again = http("GET", f"{base}/api/v1/answers/{ids[2]}")
        assert status == 200 and names_of(again) == alone[13]
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
        stop_process(web)
        stop_process(worker)


def test_a_waiting_request_whose_worker_is_killed_gets_its_answer_from_the_next_worker(trained_artifacts, redis_server):
    """The web process waits on the batch's inbox; the job, taken by a worker that is then killed,
    is handed to another, whose reply reaches the same waiting request. Retried under its key, the
    request gets that same answer, not a second job."""
    env = tnaas_env(trained_artifacts, REDIS_URL=redis_server.url, TNAAS_QUEUE="killed", TNAAS_API_WAIT=20, **FAST)
    connection = Redis.from_url(redis_server.url)
    doomed = start_worker(env, connection)
    web, base = start_web(env)
    survivor = None
    try:
        os.kill(doomed.pid, signal.SIGSTOP)  # it may take the job off the queue, but never answers it
        with ThreadPoolExecutor(1) as pool:
            asked = pool.submit(generate, base, 5, 3, "killed-worker-1")
            wait_until(
                lambda: connection.keys(Answers.JOB.format(answer_id="*")),
                timeout=10,
                what="the request's job to be queued",
            )
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait()
            survivor = start_worker(env, connection)
            status, _, answer = asked.result(timeout=40)
        assert status == 200 and answer["status"] == "done" and len(names_of(answer)) == 3
        status, _, retried = generate(base, 5, 3, "killed-worker-1")
        assert status == 200 and retried == answer
        assert len(list(VoteStore(connection).export())) == 3  # recorded once
    finally:
        stop_process(web)
        stop_process(doomed)
        if survivor is not None:
            stop_process(survivor)


def test_a_batch_job_and_its_answer_ids_are_written_in_one_transaction(redis_server):
    """The web process has rq write the batch's job into one transaction with the answer ids that point
    at it: the job is queued as rq queues it, each answer id points at it, and the transaction's last
    reply is the queue's length."""
    connection = Redis.from_url(redis_server.url)
    settings = Settings(redis_url=redis_server.url, queue="sent-whole")
    items = [
        WebItem(request=GenerateRequest(corpus="cats", n=2, seed=s), client="api", answer_id=f"a{s}") for s in (1, 2)
    ]
    assert enqueue_web_batch(connection, items, "job-1", settings) == 1  # the queue's length, the job in it
    job = Job.fetch("job-1", connection=connection)
    assert job.get_status() == JobStatus.QUEUED and job.func_name == "jobs.tasks.answer_web_batch"
    assert queue(connection, settings).job_ids == ["job-1"]
    assert [Answers(connection).job_of(a) for a in ("a1", "a2")] == [b"job-1", b"job-1"]
    assert [i["answer_id"] for i in job.args[0]["items"]] == ["a1", "a2"]


def test_a_batch_keeps_each_reply_with_its_impressions_once_and_a_rerun_delivers_the_replies_that_stand(
    redis_server,
):
    """``keep_and_deliver``: the first run keeps each reply and records its impressions, and the web
    process gets them; a rerun of the job (its worker was thought dead) made other names, but keeps
    none of them, records nothing more, and delivers the first run's replies."""
    connection = Redis.from_url(redis_server.url)
    answers, votes = Answers(connection), VoteStore(connection)
    first = {"a1": '{"names": ["Ångström", "עברית"]}'.encode(), "a2": b'{"names": ["b"]}'}
    rerun = {"a1": b'{"names": ["other"]}', "a2": b'{"names": ["other too"]}'}

    def impressions(answer_id: str, name: str) -> list[tuple]:
        return [("RPUSH", votes.IMPRESSIONS_KEY, f"{answer_id}:{name}"), ("HINCRBY", "shown", answer_id, 1)]

    assert answers.keep_and_deliver(
        "job", first, {"a1": impressions("a1", "Ångström"), "a2": impressions("a2", "b")}, 60, 10
    ) == {"a1", "a2"}
    assert answers.keep_and_deliver("job", rerun, {a: impressions(a, "other") for a in rerun}, 60, 10) == set()

    async def delivered() -> list[dict]:
        aredis = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            return [await Answers(aredis).wait("job", 1), await Answers(aredis).wait("job", 1)]
        finally:
            await aredis.aclose()

    assert 0 < connection.ttl(Answers.inbox("job")) <= 10
    expected = {a: orjson.loads(r) for a, r in first.items()}
    assert asyncio.run(delivered()) == [expected, expected]  # each run's delivery: the replies that stand
    assert [answers.get(a) for a in first] == list(first.values())
    assert connection.lrange(votes.IMPRESSIONS_KEY, 0, -1) == ["a1:Ångström".encode(), b"a2:b"]
    assert connection.hgetall("shown") == {b"a1": b"1", b"a2": b"1"}
    assert 0 < connection.ttl(Answers.ANSWER.format(answer_id="a1")) <= 60
