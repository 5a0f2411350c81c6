"""What the Slack side keeps in Redis, on a real redis-server: installations and OAuth states (slack_sdk's
store interfaces), reply progress, replay de-duplication, the reaction budget and forgetting
a person; plus the manifests and the mrkdwn the bot writes."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from redis import Redis
from rq import Queue
from slack_sdk.oauth.installation_store import Bot, Installation

from bot.slack.app import BOT_SCOPES
from bot.slack.batching import SlackBatcher
from bot.slack.messages import candidate_blocks, code, escape, headline, key_of_block, name_text, parse_vote_value
from core.limits import KEYCAP_VOTES_TO_LEARN, SLACK_BATCH_MAX, SLACK_REACTIONS_PER_MINUTE
from core.settings import Settings
from jobs.contracts import GenerateRequest, NamesReply, ReplyTo, SlackJob
from store.events import SeenRequests
from store.installations import RedisInstallationStore, RedisOAuthStateStore
from store.replies import ReplyProgress
from store.slack_batches import SlackBatches
from store.slack_teams import TeamHabits
from store.votes import Impression, VoteStore
from testkit.processes import tnaas_env
from tnaas.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def redis(redis_url):
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    return connection


def installation(team: str, token: str, user: str = "UINST", **kw) -> Installation:
    return Installation(app_id="A1", team_id=team, bot_token=token, bot_id="B1", bot_user_id="UBOT", user_id=user, **kw)


def test_installations_round_trip_per_workspace_and_installer(redis):
    store = RedisInstallationStore(redis)
    store.save(installation("T1", "xoxb-1"))
    store.save(installation("T2", "xoxb-2", user="U9", bot_refresh_token="xoxe-1", bot_token_expires_in=3600))
    assert store.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-1"
    found = store.find_installation(enterprise_id=None, team_id="T2")
    assert (found.bot_token, found.user_id, found.bot_refresh_token) == ("xoxb-2", "U9", "xoxe-1")
    assert found.bot_token_expires_at > time.time() + 3000
    assert store.find_installation(enterprise_id=None, team_id="T2", user_id="U9").bot_token == "xoxb-2"
    assert store.find_bot(enterprise_id=None, team_id="T3") is None
    assert store.teams() == ["-:T1", "-:T2"]


def test_a_rotated_bot_token_is_what_the_installation_answers(redis):
    store = RedisInstallationStore(redis)
    store.save(installation("T1", "xoxb-old", bot_refresh_token="xoxe-old", bot_token_expires_in=60))
    bot = store.find_bot(enterprise_id=None, team_id="T1")
    store.save_bot(
        Bot(**(bot.__dict__ | {"bot_token": "xoxb-new", "bot_refresh_token": "xoxe-new", "bot_token_expires_at": None}))
    )
    found = store.find_installation(enterprise_id=None, team_id="T1")
    assert (found.bot_token, found.bot_refresh_token) == ("xoxb-new", "xoxe-new")


def test_uninstalling_deletes_the_workspace(redis):
    store = RedisInstallationStore(redis)
    store.save(installation("T1", "xoxb-1"))
    store.delete_all(enterprise_id=None, team_id="T1")
    assert store.find_bot(enterprise_id=None, team_id="T1") is None
    assert store.find_installation(enterprise_id=None, team_id="T1") is None
    assert store.find_installation(enterprise_id=None, team_id="T1", user_id="UINST") is None
    assert store.teams() == []


def test_an_oauth_state_is_consumed_once(redis):
    states = RedisOAuthStateStore(redis, expiration_seconds=60)
    state = states.issue()
    assert states.consume(state) and not states.consume(state) and not states.consume("forged")


def test_reply_progress_and_replays_are_recorded_once(redis):
    progress = ReplyProgress(redis, "job-1")
    assert progress.get("headline") is None
    progress.done("headline", "1.1")
    assert ReplyProgress(redis, "job-1").get("headline") == "1.1"  # what a rerun of the job sees
    assert ReplyProgress(redis, "job-2").steps() == {}
    assert progress.claim("told") and not progress.claim("told")
    seen = SeenRequests(redis)
    assert seen.first_time("v0=abc") and not seen.first_time("v0=abc")


def test_a_stalled_run_of_a_reply_sees_the_steps_its_rerun_recorded_meanwhile(redis):
    """A worker stopped mid-reply (SIGSTOP, a long GC) is given up and its job rerun elsewhere; when
    it wakes, each step it has left must see what the rerun posted, or it posts the reply again."""
    stalled = ReplyProgress(redis, "job-3")
    assert stalled.get("headline") is None  # it looked before it stalled
    rerun = ReplyProgress(redis, "job-3")
    rerun.done("headline", "1.1")
    rerun.done("names", "1.2")
    assert stalled.get("names") == "1.2"
    assert stalled.steps() == {"headline": "1.1", "names": "1.2"}


def test_a_slack_batch_takes_requests_until_a_worker_takes_it_and_a_rerun_reads_the_same(redis):
    batches = SlackBatches(redis)
    with redis.pipeline() as pipe:
        batches.start(pipe, "b1", b"first")
        pipe.execute()
    assert batches.join("b1", b"second") == 2 and batches.join("nope", b"lost") == 0
    assert batches.items("b1") == [b"first", b"second"]
    assert batches.take("b1") == [b"first", b"second"]
    assert batches.join("b1", b"late") == 0  # taken: the web process opens a new batch for it
    assert batches.take("b1") == [b"first", b"second"] == batches.items("b1")  # a rerun of the job
    assert 0 < redis.ttl(SlackBatches.TAKEN.format(batch="b1")) <= SlackBatches.TTL


def test_a_request_joined_twice_is_in_its_batch_once(redis):
    """redis-py retries a command whose reply was lost (a timeout after Redis ran it): the same request
    pushed twice must not become two replies posted side by side."""
    batches = SlackBatches(redis)
    with redis.pipeline() as pipe:
        batches.start(pipe, "b2", b"first")
        pipe.execute()
    batches.join("b2", b"second")
    batches.join("b2", b"second")
    assert batches.items("b2") == [b"first", b"second"] == batches.take("b2")


def test_the_web_process_opens_a_new_batch_once_a_worker_has_taken_its_last(redis):
    settings = Settings(redis_url="unused", queue="batching")
    batcher, queue = SlackBatcher(redis, settings), Queue("batching", connection=redis)
    reply = ReplyTo(kind="slash", channel="C1", user="U1", team="T1")
    for n in (1, 2, 3):
        batcher.submit(GenerateRequest(corpus="cats", n=n), reply)
    [first] = queue.jobs
    taken = [SlackJob.model_validate_json(i) for i in SlackBatches(redis).take(first.args[0]["batch"])]
    assert [j.request.n for j in taken] == [1, 2, 3] and len({j.id for j in taken}) == 3
    batcher.submit(GenerateRequest(corpus="cats", n=4), reply)
    assert [job.args[0]["batch"] for job in queue.jobs] == [first.args[0]["batch"], queue.jobs[1].args[0]["batch"]]
    assert [
        SlackJob.model_validate_json(i).request.n for i in SlackBatches(redis).items(queue.jobs[1].args[0]["batch"])
    ] == [4]
    for n in range(SLACK_BATCH_MAX + 1):  # a full batch is closed: the next request opens another
        batcher.submit(GenerateRequest(corpus="cats", n=1 + n % 20), reply)
    assert len(queue.jobs) == 3 and len(SlackBatches(redis).items(queue.jobs[2].args[0]["batch"])) == 2


def test_keycap_seeds_stay_within_the_tier_3_budget_and_stop_once_learned(redis):
    habits = TeamHabits(redis)
    granted = [habits.seeds("T1", 5) for _ in range(12)]
    assert sum(granted) == SLACK_REACTIONS_PER_MINUTE and granted[:9] == [5] * 9 and granted[-1] == 0
    assert habits.seeds("T2", 5) == 5  # another workspace has its own budget
    habits.pause("T2", 30)
    assert habits.seeds("T2", 5) == 0
    for _ in range(KEYCAP_VOTES_TO_LEARN):
        habits.keycap_vote("T3", "U1")  # one enthusiast is not the team
    assert not habits.knows_keycaps("T3")
    for i in range(KEYCAP_VOTES_TO_LEARN):
        habits.keycap_vote("T3", f"U{i}")
    assert habits.knows_keycaps("T3") and habits.seeds("T3", 5) == 0


def shown(team: str, ts: str, names: list[str], user: str = "U1", at: float | None = None) -> list[Impression]:
    return [
        Impression(
            channel="C1",
            ts=ts,
            index=i,
            name=n,
            corpus="cats",
            model="kn3",
            model_version="v",
            requested_by=user,
            team=team,
            shown_at=at if at is not None else time.time(),
        )
        for i, n in enumerate(names, 1)
    ]


def test_buttons_toggle_votes_and_top_is_per_team(redis):
    votes = VoteStore(redis)
    votes.record_impressions(shown("T1", "1.1", ["tom", "felix"]))
    votes.record_impressions(shown("T2", "2.2", ["rex"]))
    assert votes.name_of("C1", "1.1", 2) == "felix" and votes.name_of("C1", "1.1", 3) is None
    assert votes.toggle("C1", "1.1", 2, "U5") and votes.tally("C1", "1.1") == {2: {"up": 1, "down": 0}}
    assert not votes.toggle("C1", "1.1", 2, "U5") and votes.tally("C1", "1.1") == {}
    votes.toggle("C1", "1.1", 1, "U5")
    votes.toggle("C1", "2.2", 1, "U5")
    assert votes.top(team="T1") == [("tom", "cats", 1)] and votes.top(team="T2") == [("rex", "cats", 1)]


def test_forgetting_a_person_deletes_their_votes_and_requests(redis):
    votes = VoteStore(redis)
    votes.record_impressions(shown("T1", "1.1", ["tom", "felix"], user="U1"))
    votes.record_impressions(shown("T1", "2.2", ["rex"], user="U2"))
    votes.vote("C1", "1.1", 1, "U2", 1)
    votes.vote("C1", "1.1", 2, "U2", -1)
    votes.vote("C1", "2.2", 1, "U1", 1)
    assert votes.arms.counts("model", "cats") == {"kn3": (2, 3)}
    assert votes.forget_user("U2") == (2, 1)
    assert [(r["name"], r["requested_by"], r["up"]) for r in votes.export()] == [("tom", "U1", 0), ("felix", "U1", 0)]
    assert votes.arms.counts("model", "cats") == {"kn3": (1, 3)}  # U2's up-vote is gone from the bandit too


def test_tnaas_votes_forget_from_the_command_line(redis, redis_url, tmp_path):
    votes = VoteStore(redis)
    votes.record_impressions(shown("T1", "1.1", ["tom"], user="U1"))
    votes.vote("C1", "1.1", 1, "U7", 1)
    TeamHabits(redis).keycap_vote("T1", "U7")
    env = tnaas_env(tmp_path / "artifacts", REDIS_URL=redis_url)
    out = subprocess.run(
        [sys.executable, "-m", "tnaas", "votes", "forget", "--user", "U7"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "1 vote" in out.stdout and votes.tally("C1", "1.1") == {}
    assert TeamHabits(redis).forget("U7") == 0  # already forgotten there too
    out = subprocess.run(
        [sys.executable, "-m", "tnaas", "votes", "forget", "--user", "not a user"], env=env, capture_output=True
    )
    assert out.returncode == 2


# -- the manifests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["manifest.yml", "manifest.socket.yml"])
def test_manifests_ask_for_the_least_privilege_and_subscribe_to_what_is_handled(name):
    manifest = yaml.safe_load((ROOT / name).read_text())
    assert manifest["oauth_config"]["scopes"]["bot"] == BOT_SCOPES
    assert not {"channels:history", "groups:history", "mpim:history"} & set(BOT_SCOPES)
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == {
        "app_mention",
        "message.im",
        "reaction_added",
        "reaction_removed",
        "app_home_opened",
        "app_uninstalled",
        "tokens_revoked",
        "function_executed",
    }
    step = manifest["functions"]["suggest_names"]
    assert set(step["input_parameters"]) == {"corpus", "n", "pattern", "free"}
    assert set(step["output_parameters"]) == {"names_text", "names"}
    assert manifest["settings"]["org_deploy_enabled"] and manifest["settings"]["function_runtime"] == "remote"
    assert manifest["features"]["app_home"]["home_tab_enabled"] and manifest["settings"]["interactivity"]["is_enabled"]
    assert manifest["settings"]["socket_mode_enabled"] == (name == "manifest.socket.yml")


# -- what the bot writes ------------------------------------------------------------------------------
def test_user_text_cannot_break_out_of_a_code_span_or_become_markup():
    assert code("a`b") == "`aˋb`" and code("x\ny") == "`x y`"
    assert code("<!channel> &lt;") == "`&lt;!channel&gt; &amp;lt;`"
    assert escape("a < b & c") == "a &lt; b &amp; c"
    assert name_text("typing_extensions") == "`typing_extensions`" and name_text("pikachu") == "*pikachu*"


def test_headlines_escape_each_character_once():
    from jobs.contracts import DetectRequest

    line = headline(DetectRequest(text="a <b> & `c`"), "U1")
    assert line == "<@U1> asked what `a &lt;b&gt; &amp; ˋcˋ` sounds like"


def test_candidates_carry_vote_buttons_with_the_message_key_when_needed():
    reply = NamesReply.model_validate(
        {
            "corpus": "cats",
            "model": "kn3",
            "model_version": "v",
            "candidates": [{"name": n, "log_prob": -1.0, "known": False, "believability": 0.5} for n in ("tom", "tim")],
        }
    )

    def votes(blocks):
        return [e for b in blocks if b.type == "actions" for e in b.elements if e.action_id.startswith("vote_")]

    blocks, text = candidate_blocks(reply, seeded=True)
    assert [b.value for b in votes(blocks)] == ["1", "2"] and text == "1. *tom*\n2. *tim*"
    blocks, _ = candidate_blocks(reply, seeded=False, key="rjob")
    assert [parse_vote_value(b.value) for b in votes(blocks)] == [(1, "rjob"), (2, "rjob")]
    menus = [b for b in blocks if getattr(b, "accessory", None) and b.accessory.type == "overflow"]
    assert [key_of_block(b.block_id) for b in menus] == ["rjob", "rjob"]  # the menu's key: its block's id
    assert json.dumps([b.to_dict() for b in blocks])  # valid Block Kit, serialisable
