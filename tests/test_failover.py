"""Redis with Sentinel: a primary, its replicas and three sentinels on loopback (testkit.sentinels), the
stack against them, and the primary killed with SIGKILL under load. What was acknowledged (votes,
idempotency claims) survives the failover, and every request is answered in the end."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from redis import Redis
from redis.sentinel import Sentinel
from rq import Queue

from bot.slack.batching import SlackBatcher
from core.settings import get_settings
from jobs.contracts import GenerateRequest, ReplyTo
from store.claims import Claims
from store.connection import ReplicaUnavailable, redis_client
from store.replies import ReplyProgress
from store.slack_batches import SlackBatches
from store.votes import WEB_CHANNEL, VoteStore
from testkit.processes import http, start_web, start_worker, stop_process, tnaas_env
from testkit.sentinels import SERVICE, SentinelGroup
from testkit.slack_standin import TOKEN as SLACK_TOKEN
from testkit.slack_standin import SlackStandIn, signed_post, slash_form

log = logging.getLogger(__name__)
TOKEN = "failover-token"
SLACK_SECRET = "failover-signing-secret"
FORM = "application/x-www-form-urlencoded"
FAST = {
    "TNAAS_HEARTBEAT": "0.2",
    "TNAAS_WORKER_SILENT": "2",
    "TNAAS_DEFAULT_MODEL": "kn3",
    "TNAAS_LOG_LEVEL": "WARNING",
    "TNAAS_API_WAIT": "2",
    "TNAAS_USER_RATE": "1000000",
    "TNAAS_TEAM_RATE": "1000000",
    "TNAAS_VOTE_RATE": "1000000",
    "TNAAS_API_TOKEN": TOKEN,
}


@pytest.fixture
def sentinel_settings(monkeypatch):
    """This process' clients go through the sentinels ``use(group)`` names, as a deployed process' do."""

    def use(group: SentinelGroup) -> None:
        monkeypatch.setenv("TNAAS_REDIS_SENTINELS", group.addresses)
        get_settings.cache_clear()

    yield use
    monkeypatch.delenv("TNAAS_REDIS_SENTINELS", raising=False)
    get_settings.cache_clear()


def test_an_acknowledged_write_is_on_a_replica_and_refused_clearly_when_no_replica_answers(
    short_dir, sentinel_settings
):
    group = SentinelGroup(short_dir, replicas=1).start()
    try:
        sentinel_settings(group)
        client = redis_client("redis://127.0.0.1:1/0")  # under Sentinel only the database number is read
        assert client.connection_pool.service_name == SERVICE
        assert Claims(client).claim("first", 60) is True
        replica = Redis(port=group.servers[1].port, socket_timeout=2)
        assert replica.exists(Claims.KEY.format(job_id="first")) == 1  # there when the claim was acknowledged
        assert Claims(client).claim("first", 60) is False
        replica_process = group.processes[group.servers[1].port]
        os.kill(replica_process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(ReplicaUnavailable, match="0 of 1 Redis replicas confirmed"):
                Claims(client).claim("second", 60)
            assert time.monotonic() - started < get_settings().redis_ack_timeout + 1
        finally:
            os.kill(replica_process.pid, signal.SIGCONT)
        assert Claims(client).claim("second", 60) is False  # written, not acknowledged: a retry finds it
    finally:
        group.stop()


def test_a_slack_post_recorded_as_the_primary_dies_is_on_the_new_primary_so_no_rerun_posts_it_again(
    short_dir, sentinel_settings
):
    group = SentinelGroup(short_dir, replicas=2).start()
    try:
        sentinel_settings(group)
        progress = ReplyProgress(redis_client("redis://127.0.0.1:1/0"), "reply-job")
        progress.done("answer", "{}")
        old = group.primary_port()
        killed = group.kill(old)
        progress.done("headline", "1700000000.000001")  # Slack accepted the headline just now
        assert time.monotonic() - killed < get_settings().redis_record_wait
        assert group.primary_port() != old
        rerun = ReplyProgress(redis_client("redis://127.0.0.1:1/0"), "reply-job")
        assert rerun.get("headline") == "1700000000.000001"  # the rerun skips the post
    finally:
        group.stop()


def test_a_slash_command_is_acknowledged_only_once_a_replica_has_its_request(short_dir, sentinel_settings):
    group = SentinelGroup(short_dir, replicas=1).start()
    try:
        sentinel_settings(group)
        client = redis_client("redis://127.0.0.1:1/0")
        settings = get_settings().model_copy(update={"queue": "acked"})
        reply = ReplyTo(kind="slash", channel="C1", user="U1", team="T1")
        batcher = SlackBatcher(client, settings)
        batcher.submit(GenerateRequest(corpus="cats", n=1), reply)  # opens a batch (no worker takes it)
        replica = Redis(port=group.servers[1].port, socket_timeout=2)
        [batch] = replica.keys(SlackBatches.OPEN.format(batch="*"))
        assert replica.llen(batch) == 1 and Queue("acked", connection=replica).count == 1  # there once acknowledged
        os.kill(group.processes[group.servers[1].port].pid, signal.SIGSTOP)
        try:
            with pytest.raises(ReplicaUnavailable):
                batcher.submit(GenerateRequest(corpus="cats", n=2), reply)  # joins the open batch
            with pytest.raises(ReplicaUnavailable):
                SlackBatcher(client, settings).submit(GenerateRequest(corpus="cats", n=3), reply)  # opens one
        finally:
            os.kill(group.processes[group.servers[1].port].pid, signal.SIGCONT)
    finally:
        group.stop()


class Load:
    """Clients asking for names (each under its own idempotency key, retried until answered) and voting
    on the first name of each answer as a voter of their own (retried until acknowledged); a Slack user
    sending slash commands, each in a channel of its own."""

    def __init__(self, bases: list[str], slack: SlackStandIn):
        self.bases, self.slack = bases, slack
        self.commands: dict[str, str] = {}  # channel -> the command's ack ("" when accepted)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests = self.answered = self.errored = 0
        self.unanswered: list[str] = []
        self.answers_at: list[tuple[float, float]] = []  # (sent, came back) of each 200 to a generate
        self.acknowledged: list[tuple[str, int, str]] = []  # (answer id, index, voter) of each 200 vote
        self.ids = itertools.count()
        self.claimed: list[str] = []

    def run_client(self, client: int) -> None:
        while not self.stopping.is_set():
            n = next(self.ids)
            base = self.bases[n % len(self.bases)]
            answer, sent = self._until_ok(
                base, "/api/v1/generate", {"corpus": "cats", "n": 3, "seed": n}, {"Idempotency-Key": f"load-{n:06d}"}
            )
            if answer is None:
                self.unanswered.append(f"load-{n:06d}")
                continue
            with self.lock:
                self.answers_at.append((sent, time.monotonic()))
                self.claimed.append(answer["answer_id"])  # its idempotency key's claim
            voter = f"v{client}-{n}"
            vote = {"answer_id": answer["answer_id"], "index": 1, "direction": 1, "voter": voter}
            if self._until_ok(base, "/api/v1/votes", vote, {})[0] is not None:
                with self.lock:
                    self.acknowledged.append((answer["answer_id"], 1, f"api-{voter}"))

    def run_slack(self) -> None:
        for n in itertools.count():
            if self.stopping.is_set():
                return
            channel, user = f"CF{n}", f"UF{n}"
            body = slash_form("cats 2", user=user, channel=channel, response_url=self.slack.response_url(channel, user))
            try:
                status, ack = signed_post(f"{self.bases[n % len(self.bases)]}/slack/events", body, FORM, SLACK_SECRET)
            except OSError:
                status, ack = 0, "no answer"
            self.commands[channel] = ack if status == 200 else f"HTTP {status}"
            time.sleep(0.2)

    def replies(self) -> dict[str, int]:
        """Messages the bot posted in each accepted command's channel (its headline and its candidates: 2)."""
        posted = [p["channel"] for p in self.slack.called("chat.postMessage") if "_ts" in p]
        return {channel: posted.count(channel) for channel, ack in self.commands.items() if ack == ""}

    def _until_ok(self, base: str, path: str, body: dict, headers: dict, deadline: float = 30.0):
        """The 200 answer and when its attempt was sent, asking again (same body, same key) after an error
        or a 202, within ``deadline``; (None, None) past it."""
        give_up = time.monotonic() + deadline
        while (sent := time.monotonic()) < give_up:
            with self.lock:
                self.requests += 1
            try:
                status, _, reply = http("POST", f"{base}{path}", body, {"Authorization": f"Bearer {TOKEN}"} | headers)
            except (OSError, urllib.error.URLError):
                status, reply = 0, None
            with self.lock:
                self.answered += status == 200
                self.errored += status != 200
            if status == 200:
                return reply, sent
            time.sleep(0.1)
        return None, None


def test_killing_the_primary_under_load_loses_no_acknowledged_vote_and_no_request(
    trained_artifacts, short_dir, sentinel_settings
):
    group = SentinelGroup(short_dir, replicas=2).start()
    standing = ExitStack()
    slack = standing.enter_context(SlackStandIn())
    processes = []
    try:
        sentinel_settings(group)
        env = tnaas_env(
            trained_artifacts,
            REDIS_URL="redis://127.0.0.1:1/0",
            TNAAS_REDIS_SENTINELS=group.addresses,
            TNAAS_SLACK_API_URL=slack.url,
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_SIGNING_SECRET=SLACK_SECRET,
            **FAST,
        )
        watcher = Sentinel([("127.0.0.1", p) for p in group.sentinel_ports]).master_for(SERVICE, socket_timeout=2)
        processes += [start_worker(env, watcher) for _ in range(2)]
        bases = []
        for _ in range(2):
            web, base = start_web(env)
            processes.append(web)
            bases.append(base)
        load = Load(bases, slack)
        with ThreadPoolExecutor(5) as pool:
            clients = [pool.submit(load.run_client, i) for i in range(4)] + [pool.submit(load.run_slack)]
            deadline = time.monotonic() + 30
            while len(load.acknowledged) < 8 and time.monotonic() < deadline:
                time.sleep(0.1)
            before = len(load.acknowledged)
            assert before >= 8, "the stack did not answer before the kill"
            old = group.primary_port()
            killed = group.kill(old)
            time.sleep(10)
            load.stopping.set()
            for client in clients:
                client.result(timeout=60)
        deadline = time.monotonic() + 30  # the replies of the last commands
        while any(n < 2 for n in load.replies().values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        replies = load.replies()
        new = group.primary_port()
        # Answering again: the first name list asked for after the kill (one in flight may still finish).
        again = min((back for sent, back in load.answers_at if sent > killed), default=None)
        votes = VoteStore(redis_client("redis://127.0.0.1:1/0"))
        claims_lost = [a for a in load.claimed if not votes.redis.exists(Claims.KEY.format(job_id=a))]
        lost = [
            v
            for v in load.acknowledged
            if not votes.redis.hexists(VoteStore.VOTES_KEY.format(channel=WEB_CHANNEL, ts=v[0]), f"{v[1]}:{v[2]}:1")
        ]
        log.warning(
            "failover: requests %d, answered %d, errored %d, lost %d; votes acknowledged %d (%d after the kill), "
            "lost %d; idempotency claims acknowledged %d, lost %d; answering again %.1f s after the kill; slash commands %d, accepted %d, replies lost %d, "
            "posted twice %d",
            load.requests,
            load.answered,
            load.errored,
            len(load.unanswered),
            len(load.acknowledged),
            len(load.acknowledged) - before,
            len(lost),
            len(load.claimed),
            len(claims_lost),
            (again - killed) if again else -1,
            len(load.commands),
            len(replies),
            sum(n < 2 for n in replies.values()),
            sum(n > 2 for n in replies.values()),
        )
        assert new != old
        assert again is not None and again - killed < 10
        assert lost == [] and claims_lost == [] and load.unanswered == []
        assert replies and all(n == 2 for n in replies.values()), replies
        assert len(load.acknowledged) > before  # votes were acknowledged after the failover too
    finally:
        for process in processes:
            stop_process(process)
        standing.close()
        group.stop()
