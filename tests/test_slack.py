"""The Slack bot end to end, as a real workspace treats it: the real web process and workers, signed
requests over HTTP, and a local stand-in for Slack that answers like the Web API does, errors
included (``testkit.slack_standin``). One workspace, by SLACK_BOT_TOKEN; the OAuth install is in
test_slack_oauth.py."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC

import pytest
from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

from bot.slack.web_api import LOST_ACCESS, NOT_HERE, SEED_STOP
from core.limits import KEYCAP_VOTES_TO_LEARN, SLACK_MAX_BODY
from store.replies import ReplyProgress
from store.shortlists import Shortlists
from store.slack_teams import TeamHabits
from store.votes import VoteStore
from testkit.processes import http, post_while_refused, start_worker, wait_until
from testkit.slack_standin import (
    BOT_USER,
    SCOPES,
    TOKEN,
    SlackStandIn,
    post,
    signature,
    signed_post,
    slash_form,
)
from testkit.stacks import slack_stack

SECRET = "test-signing-secret"
FORM = "application/x-www-form-urlencoded"
QUEUE = "slack"


@dataclass
class Stack:
    url: str  # /slack/events
    base: str
    slack: SlackStandIn
    redis: Redis
    env: dict
    processes: list

    def slash(self, text: str, channel: str = "C1", user: str = "U1", team: str = "T1", **kw) -> tuple[int, str, str]:
        """A signed /techname; (status, ack body, the command's response_url)."""
        response_url = self.slack.response_url(channel, user, age=kw.pop("url_age", 0))
        trigger = kw.pop("trigger", "t")
        body = slash_form(text, user=user, channel=channel, team=team, response_url=response_url, trigger=trigger)
        status, ack = signed_post(self.url, body, FORM, kw.pop("secret", SECRET), **kw)
        return status, ack, response_url

    def event(self, inner: dict, event_id: str, team: str = "T1") -> int:
        body = {
            "type": "event_callback",
            "team_id": team,
            "api_app_id": "A1",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": inner,
        }
        return signed_post(self.url, json.dumps(body).encode(), "application/json", SECRET)[0]

    def click(self, channel: str, message_ts: str, value: str, user: str = "U5", team: str = "T1") -> str:
        """A person clicks a vote button; returns the action's response_url (where the confirmation goes)."""
        response_url = self.slack.response_url(channel, user)
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": team},
            "team": {"id": team},
            "api_app_id": "A1",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel},
            "actions": [{"type": "button", "action_id": "vote_1", "block_id": "b", "value": value, "action_ts": "1"}],
            "response_url": response_url,
            "trigger_id": "t",
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        assert signed_post(self.url, body, FORM, SECRET)[0] == 200
        return response_url

    def act(
        self, action: dict, *, channel: str = "", message_ts: str = "", user: str = "U5", team: str = "T1", trigger="t"
    ):
        """A person clicks ``action`` (a button or a menu choice) on a message, or on their Home tab when
        no channel is given (``trigger``: the click's trigger_id); (status, the action's response_url)."""
        response_url = self.slack.response_url(channel or "DHOME", user)
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": team},
            "team": {"id": team},
            "api_app_id": "A1",
            "actions": [{"block_id": "b", "action_ts": "1"} | action],
            "response_url": response_url,
            "trigger_id": trigger,
        }
        if channel:
            payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel}
            payload["channel"] = {"id": channel}
            payload["message"] = {"ts": message_ts, "thread_ts": self.thread_of(channel, message_ts)}
        else:
            payload["container"] = {"type": "view", "view_id": "V1"}
            payload["view"] = {"id": "V1", "type": "home"}
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return signed_post(self.url, body, FORM, SECRET)[0], response_url

    def thread_of(self, channel: str, ts: str) -> str:
        found = [p for p in self.posts(channel) if p["_ts"] == ts]
        return (found[0].get("thread_ts") if found else None) or ts

    def posts(self, channel: str) -> list[dict]:
        """Messages the bot did post in ``channel`` (each with its ``_ts``)."""
        return [p for p in self.slack.called("chat.postMessage") if p.get("channel") == channel and "_ts" in p]

    def attempts(self, method: str, channel: str) -> list[dict]:
        return [p for p in self.slack.called(method) if p.get("channel") == channel]


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    """Redis, the Slack stand-in, `tnaas web` and one `tnaas worker`, all on 127.0.0.1."""
    env = {"TNAAS_QUEUE": QUEUE, "TNAAS_DEFAULT_MODEL": "kn3", "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    with slack_stack(trained_artifacts, tmp_path_factory.mktemp("redis"), **env) as s:
        yield Stack(f"{s.base}/slack/events", s.base, s.slack, s.redis, s.env, s.processes)


def blocks_of(message: dict) -> list[dict]:
    blocks = message.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def vote_buttons(message: dict) -> list[dict]:
    return [
        e for b in blocks_of(message) if b["type"] == "actions" for e in b["elements"] if e["action_id"][:5] == "vote_"
    ]


def wait_for(predicate, what: str, timeout: float = 20):
    return wait_until(predicate, timeout=timeout, what=what)


def settled(stack: Stack) -> None:
    """Every queued Slack job has run (so that counting calls afterwards is final)."""
    from rq import Queue

    queue = Queue(QUEUE, connection=stack.redis)
    wait_for(
        lambda: queue.count == 0 and StartedJobRegistry(QUEUE, connection=stack.redis).count == 0, "the queue to drain"
    )


# -- the happy path --------------------------------------------------------------------------------
def test_slash_command_replies_in_a_thread_with_vote_buttons_and_seeds(stack):
    start = time.perf_counter()
    status, _, _ = stack.slash("pokemon 3", channel="CHAPPY", team="THAPPY")
    assert status == 200 and time.perf_counter() - start < 3
    parent, candidates = wait_for(lambda: (p := stack.posts("CHAPPY")) and len(p) >= 2 and p, "the reply")[:2]
    assert parent["text"] == "<@U1> asked for 3 pokemon names" and "thread_ts" not in parent
    assert candidates["thread_ts"] == parent["_ts"] and candidates["text"].count("\n") == 2
    buttons = vote_buttons(candidates)
    assert [(b["action_id"], b["value"]) for b in buttons] == [("vote_1", "1"), ("vote_2", "2"), ("vote_3", "3")]
    seeded = wait_for(lambda: (r := stack.attempts("reactions.add", "CHAPPY")) and len(r) >= 3 and r, "the seeds")
    assert [r["name"] for r in seeded] == ["one", "two", "three"]


def test_votes_count_once_per_person_and_ignore_the_bot(stack):
    stack.slash("cats 2", channel="CVOTE")
    ts = wait_for(lambda: len(r := stack.attempts("reactions.add", "CVOTE")) >= 2 and r, "the seeds")[0]["timestamp"]
    item = {"type": "message", "channel": "CVOTE", "ts": ts}
    vote = {"type": "reaction_added", "user": "U7", "reaction": "two", "item": item, "item_user": BOT_USER}
    assert stack.event(vote | {"event_ts": "1"}, "Ev1") == 200
    assert stack.event(vote | {"event_ts": "1"}, "Ev1") == 200  # Slack's retry of the same event
    assert stack.event(vote | {"user": BOT_USER, "event_ts": "2"}, "Ev2") == 200  # the bot's own seed
    store = VoteStore(stack.redis)
    wait_for(lambda: store.tally("CVOTE", ts) == {2: {"up": 1, "down": 0}}, "the vote")
    stack.event(vote | {"type": "reaction_removed", "event_ts": "3"}, "Ev3")
    wait_for(lambda: store.tally("CVOTE", ts) == {}, "the vote to be removed")
    rows = [r for r in store.export() if r["ts"] == ts]
    assert [r["index"] for r in rows] == [1, 2] and rows[0]["corpus"] == "cats" and rows[0]["requested_by"] == "U1"
    assert rows[0]["team"] == "T1"


def test_a_vote_button_votes_and_a_second_click_takes_it_back(stack):
    stack.slash("cats 2", channel="CBUTTON")
    ts = wait_for(lambda: len(p := stack.posts("CBUTTON")) >= 2 and p, "the reply")[1]["_ts"]
    store = VoteStore(stack.redis)
    first = stack.click("CBUTTON", ts, "2")
    wait_for(lambda: store.tally("CBUTTON", ts) == {2: {"up": 1, "down": 0}}, "the vote")
    said = wait_for(lambda: stack.slack.responses(first), "the confirmation")[0]
    assert said["response_type"] == "ephemeral" and said["text"].startswith("You voted for *")
    stack.click("CBUTTON", ts, "2")
    wait_for(lambda: store.tally("CBUTTON", ts) == {}, "the vote to be taken back")


def test_a_click_counts_only_on_a_reply_posted_for_the_clickers_own_workspace(stack):
    """A signed click names its channel and message itself. Before: one naming a web answer (channel
    `web`, the answer's id) voted on it, and one from another workspace voted on this one's reply."""
    status, _, answer = http("POST", f"{stack.base}/api/v1/generate", {"corpus": "cats", "n": 2})
    assert status == 200
    on_the_web = stack.click("web", answer["answer_id"], "1")
    stack.slash("cats 2", channel="COWN")
    ts = wait_for(lambda: len(p := stack.posts("COWN")) >= 2 and p, "the reply")[1]["_ts"]
    store = VoteStore(stack.redis)
    wait_for(lambda: store.name_of("COWN", ts, 1), "the impressions")
    from_elsewhere = stack.click("COWN", ts, "1", team="TELSEWHERE")
    from_here = stack.click("COWN", ts, "2")
    said = {
        url: wait_for(lambda url=url: stack.slack.responses(url), "the confirmation")[0]["text"]
        for url in (on_the_web, from_elsewhere, from_here)
    }
    assert said[on_the_web].startswith("Voting on that message has closed")
    assert said[from_elsewhere].startswith("Voting on that message has closed")
    assert said[from_here].startswith("You voted for *")
    assert store.tally("web", answer["answer_id"]) == {} and store.tally("COWN", ts) == {2: {"up": 1, "down": 0}}


def test_an_event_of_a_team_that_never_installed_the_app_is_ignored(stack):
    """One workspace's token (T1): before, a mention from team TSTRANGER was answered with it."""
    mention = {"type": "app_mention", "user": "U2", "text": f"<@{BOT_USER}> cats 2", "ts": "9.1", "event_ts": "9.1"}
    assert stack.event(mention | {"channel": "CSTRANGER"}, "EvStranger", team="TSTRANGER") == 200
    assert stack.event(mention | {"channel": "CNATIVE"}, "EvNative") == 200  # the token's own team: answered
    wait_for(lambda: stack.posts("CNATIVE"), "the reply in the token's team")
    settled(stack)
    assert (
        stack.attempts("chat.postMessage", "CSTRANGER") == []
        and stack.attempts("chat.postEphemeral", "CSTRANGER") == []
    )


def test_keycaps_are_no_longer_seeded_once_the_team_votes_with_them(stack):
    """In the token's own team (its events are the only ones answered), which unlearns them afterwards."""
    stack.slash("cats 2", channel="CLEARN")
    ts = wait_for(lambda: len(r := stack.attempts("reactions.add", "CLEARN")) >= 2 and r, "the seeds")[0]["timestamp"]
    item = {"type": "message", "channel": "CLEARN", "ts": ts}
    voters = [f"UL{i}" for i in range(KEYCAP_VOTES_TO_LEARN)]
    try:
        for i, voter in enumerate(voters):
            vote = {"type": "reaction_added", "user": voter, "reaction": "one", "item": item, "event_ts": str(i)}
            stack.event(vote, f"EvLearn{i}")
        wait_for(lambda: VoteStore(stack.redis).tally("CLEARN", ts) == {1: {"up": 5, "down": 0}}, "the votes")
        stack.slash("cats 2", channel="CLEARN")
        replies = wait_for(lambda: len(p := stack.posts("CLEARN")) >= 4 and p, "the second reply")
        settled(stack)
    finally:
        for voter in voters:
            TeamHabits(stack.redis).forget(voter)
    assert len(stack.attempts("reactions.add", "CLEARN")) == 2  # only the first reply's
    hint = json.dumps(blocks_of(replies[3]))
    assert "I added the reactions" not in hint and "Vote with the buttons" in hint


def test_a_mention_is_answered_in_its_thread(stack):
    mention = {
        "type": "app_mention",
        "user": "U2",
        "text": f"<@{BOT_USER}> *u*a pokemon",
        "channel": "C9",
        "ts": "1699999999.000200",
        "event_ts": "1699999999.000200",
    }
    assert stack.event(mention, "EvM1") == 200
    stack.event(mention, "EvM1")  # retried: answered once
    reply = wait_for(lambda: stack.posts("C9"), "the reply")[0]
    assert reply["thread_ts"] == "1699999999.000200"
    settled(stack)
    assert len(stack.posts("C9")) == 1


def test_a_direct_message_is_answered_like_a_mention(stack):
    message = {"type": "message", "channel_type": "im", "user": "U3", "text": "cats 2", "channel": "DU3", "ts": "5.1"}
    stack.slack.channel("DU3", public=False, members={"U3", BOT_USER})
    assert stack.event(message | {"event_ts": "5.1"}, "EvDM1") == 200
    reply = wait_for(lambda: stack.posts("DU3"), "the reply")[0]
    assert reply["text"].count("\n") == 1 and "vote_1" in json.dumps(blocks_of(reply))
    stack.event(message | {"text": "pokemn", "ts": "5.2", "event_ts": "5.2"}, "EvDM2")
    said = wait_for(lambda: len(p := stack.posts("DU3")) >= 2 and p, "the error")[1]
    assert "I don't know a corpus called 'pokemn'" in said["text"]
    own = {"type": "message", "channel_type": "im", "user": BOT_USER, "bot_id": "BUBOT", "text": "x", "channel": "DU3"}
    stack.event(own | {"ts": "5.3", "event_ts": "5.3"}, "EvDM3")  # the bot's own message is not a command
    settled(stack)
    assert len(stack.posts("DU3")) == 2


def test_the_home_tab_shows_how_to_use_it_and_the_teams_favourites(stack):
    stack.slash("pokemon 2", channel="CHOME")
    ts = wait_for(lambda: len(p := stack.posts("CHOME")) >= 2 and p, "the reply")[1]["_ts"]
    store = VoteStore(stack.redis)
    wait_for(lambda: store.name_of("CHOME", ts, 1), "the impressions")
    store.vote("CHOME", ts, 1, "U8", 1)
    opened = {"type": "app_home_opened", "user": "U8", "channel": "DU8", "tab": "home", "event_ts": "1"}
    assert stack.event(opened, "EvHome1") == 200
    view = wait_for(lambda: stack.slack.views.get(("T1", "U8")), "the Home tab")
    text = json.dumps(view)
    assert (
        "/techname pokemon 5" in text and f"{store.name_of('CHOME', ts, 1)} (pokemon, 1)" in text and "Models" in text
    )
    stack.slack.home_enabled = False  # an admin turned the Home tab off: views.publish says not_enabled
    try:
        attempts = len(stack.slack.called("views.publish"))
        stack.event(opened | {"event_ts": "2"}, "EvHome2")
        wait_for(lambda: len(stack.slack.called("views.publish")) > attempts, "the attempt")
        settled(stack)
    finally:
        stack.slack.home_enabled = True
    failed = FailedJobRegistry(QUEUE, connection=stack.redis).get_job_ids()
    assert not [i for i in failed if Job.fetch(i, connection=stack.redis).func_name == "bot.slack.tasks.publish_home"]


# -- replies that always arrive ---------------------------------------------------------------------
def test_a_public_channel_the_bot_never_joined_is_answered_join_free(stack):
    stack.slack.channel("CPUBLIC", public=True, members={"U1"})  # the bot is not a member; it has chat:write.public
    stack.slash("cats 2", channel="CPUBLIC")
    assert len(wait_for(lambda: len(p := stack.posts("CPUBLIC")) >= 2 and p, "the reply")) == 2


def test_not_in_channel_answers_through_the_response_url_and_its_buttons_vote(stack):
    """An install without chat:write.public gets `not_in_channel`: the answer goes through the command's
    response_url, in the channel, with vote buttons that find its candidates."""
    stack.slack.channel("CNOTIN", public=True, members={"U1"})
    stack.slack.token(TOKEN, "T1", scopes=SCOPES.replace(",chat:write.public", ""))
    try:
        _, _, response_url = stack.slash("cats 2", channel="CNOTIN")
        said = wait_for(lambda: stack.slack.responses(response_url), "the answer")[0]
    finally:
        stack.slack.token(TOKEN, "T1")
    assert said["response_type"] == "in_channel" and said["text"].startswith("<@U1> asked for 2 cats names")
    assert [p.get("_ts") for p in stack.attempts("chat.postMessage", "CNOTIN")] == [None]  # refused, not retried
    value = vote_buttons(said)[1]["value"]
    stack.click("CNOTIN", "1700000099.000001", value)  # Slack tells the button the message's ts; we never knew it
    key = value.split("|")[1]
    wait_for(lambda: VoteStore(stack.redis).tally("CNOTIN", key) == {2: {"up": 1, "down": 0}}, "the vote")


@pytest.mark.parametrize("code", sorted(NOT_HERE))
def test_every_cannot_post_here_code_answers_through_the_response_url(stack, code):
    channel = f"CHERE{code.upper().replace('_', '')}"
    stack.slack.fail("chat.postMessage", code, when=lambda p: p.get("channel") == channel)
    _, _, response_url = stack.slash("cats 2", channel=channel)
    said = wait_for(lambda: stack.slack.responses(response_url), "the answer")[0]
    assert said["response_type"] == "in_channel" and said["text"].count("\n") == 2
    settled(stack)
    assert len(stack.attempts("chat.postMessage", channel)) == 1


def test_channel_not_found_for_a_private_channel_answers_through_the_response_url(stack):
    stack.slack.channel("GPRIVATE", public=False, members={"U1"})
    _, _, response_url = stack.slash("is snorlax", channel="GPRIVATE")
    said = wait_for(lambda: stack.slack.responses(response_url), "the answer")[0]
    real = next(line for line in said["text"].splitlines() if "is a real name in:" in line)
    assert said["response_type"] == "in_channel" and "pokemon" in real


def test_is_archived_reaches_the_user_by_direct_message(stack):
    stack.slack.channel("CARCHIVED", archived=True)
    _, _, response_url = stack.slash("cats 2", channel="CARCHIVED")
    dm = wait_for(lambda: stack.posts("U1"), "the direct message")[-1]
    assert dm["text"].startswith("I can't post in that conversation") and dm["text"].count("\n") == 3
    assert stack.slack.responses(response_url) == []  # the response_url answered 410 channel_is_archived


def test_a_mention_where_the_bot_was_removed_is_answered_by_direct_message(stack):
    posts = len(stack.posts("U4"))
    mention = {
        "type": "app_mention",
        "user": "U4",
        "text": "cats 2",
        "channel": "GGONE",
        "ts": "7.1",
        "event_ts": "7.1",
    }
    stack.event(mention, "EvGone")
    dm = wait_for(lambda: stack.posts("U4")[posts:], "the direct message")[0]
    assert "here is your answer privately" in dm["text"]


def test_an_error_for_someone_not_in_the_channel_reaches_them_by_direct_message(stack):
    stack.slack.channel("CMEMBERS", members={BOT_USER, "U2"})
    mention = {"type": "app_mention", "user": "U6", "text": "pokemn", "channel": "CMEMBERS", "ts": "8.1"}
    stack.event(mention | {"event_ts": "8.1"}, "EvNotMember")
    dm = wait_for(lambda: stack.posts("U6"), "the direct message")[0]  # chat.postEphemeral: user_not_in_channel
    assert "I don't know a corpus called 'pokemn'" in dm["text"]


@pytest.mark.parametrize("code", sorted(LOST_ACCESS - {"not_installed"}))
def test_a_token_slack_refuses_is_explained_through_the_response_url_and_not_retried(stack, code):
    channel = f"CLOST{code.upper().replace('_', '')}"
    stack.slack.fail("chat.postMessage", code, when=lambda p: p.get("channel") == channel)
    _, _, response_url = stack.slash("cats 2", channel=channel)
    said = wait_for(lambda: stack.slack.responses(response_url), "the explanation")[0]
    assert said["response_type"] == "ephemeral" and f"`{code}`" in said["text"] and "reinstall" in said["text"]
    settled(stack)
    assert len(stack.attempts("chat.postMessage", channel)) == 1


def test_a_short_rate_limit_is_waited_out_within_the_job(stack):
    stack.slack.fail(
        "chat.postMessage", "ratelimited", status=429, retry_after=1, when=lambda p: p["channel"] == "CRL1"
    )
    stack.slash("cats 2", channel="CRL1")
    posted = wait_for(lambda: len(p := stack.posts("CRL1")) >= 2 and p, "the reply")
    settled(stack)
    assert len(posted) == 2 and len(stack.attempts("chat.postMessage", "CRL1")) == 3
    with stack.slack.lock:
        times = [t for (m, p), t in zip(stack.slack.calls, stack.slack.times) if p.get("channel") == "CRL1"]
    assert times[1] - times[0] >= 1.0  # Retry-After honoured by the same call, not an immediate rerun of the job


def test_a_long_rate_limit_fails_the_job_and_its_retry_continues_without_posting_twice(stack):
    """Slack's 429 on the thread post (Retry-After 30 s, beyond what a job waits): rq retries the job, which
    finds the headline already posted and posts only the candidates."""
    stack.slack.fail(
        "chat.postMessage",
        "ratelimited",
        status=429,
        retry_after=30,
        when=lambda p: p["channel"] == "CRL2" and "thread_ts" in p,
    )
    _, _, response_url = stack.slash("cats 2", channel="CRL2")
    posted = wait_for(lambda: len(p := stack.posts("CRL2")) >= 2 and p, "the reply")
    settled(stack)
    headlines = [p for p in stack.posts("CRL2") if "thread_ts" not in p]
    assert len(headlines) == 1 and len(stack.posts("CRL2")) == 2 and posted[1]["thread_ts"] == headlines[0]["_ts"]
    assert stack.slack.responses(response_url) == []  # a retry with attempts left says nothing


def test_a_rate_limited_seed_stops_seeding_and_pauses_the_team(stack):
    stack.slack.fail("reactions.add", "ratelimited", status=429, retry_after=30, when=lambda p: p["channel"] == "CRL3")
    stack.slash("cats 3", channel="CRL3", team="TRL3")
    wait_for(lambda: len(stack.posts("CRL3")) >= 2, "the reply")
    settled(stack)
    assert len(stack.attempts("reactions.add", "CRL3")) == 1
    stack.slash("cats 3", channel="CRL3", team="TRL3")
    wait_for(lambda: len(stack.posts("CRL3")) >= 4, "the second reply")
    settled(stack)
    assert len(stack.attempts("reactions.add", "CRL3")) == 1  # paused for the Retry-After: no new seeds


@pytest.mark.parametrize("code", sorted(SEED_STOP))
def test_a_seed_slack_refuses_stops_seeding_and_the_reply_stands(stack, code):
    channel = f"CSEED{code.upper().replace('_', '')}"
    stack.slack.fail("reactions.add", code, when=lambda p: p["channel"] == channel)
    stack.slash("cats 3", channel=channel, team=f"T{channel}")
    wait_for(lambda: len(stack.posts(channel)) >= 2, "the reply")
    settled(stack)
    assert len(stack.attempts("reactions.add", channel)) == 1 and len(stack.posts(channel)) == 2


def test_a_job_that_fails_for_good_tells_the_user_privately_once(stack):
    stack.slack.fail("chat.postMessage", "fatal_error", times=10, when=lambda p: p["channel"] == "CFATAL")
    _, _, response_url = stack.slash("cats 2", channel="CFATAL")
    said = wait_for(lambda: stack.slack.responses(response_url), "the apology")
    settled(stack)
    assert len(stack.attempts("chat.postMessage", "CFATAL")) == 3  # the first attempt and 2 retries
    assert len(stack.slack.responses(response_url)) == 1
    assert said[0]["response_type"] == "ephemeral" and said[0]["text"].startswith("Sorry, something went wrong")


@pytest.mark.parametrize("why", ["expired_url", "used_url"])
def test_a_user_error_whose_response_url_cannot_be_used_reaches_them_by_direct_message(stack, why):
    user = f"U{why.upper().replace('_', '')}"
    age = 31 * 60 if why == "expired_url" else 0
    response_url = stack.slack.response_url("CURL", user, age=age)
    for _ in range(5 if why == "used_url" else 0):  # a response_url takes 5 posts
        assert post(response_url, b'{"text": "earlier"}', {"Content-Type": "application/json"})[0] == 200
    body = slash_form("pokemon model=kn8", user=user, channel="CURL", response_url=response_url)
    assert signed_post(stack.url, body, FORM, SECRET)[0] == 200
    dm = wait_for(lambda: stack.posts(user), "the direct message")[0]
    assert dm["text"] == "The model kn8 isn't available for pokemon. Try one of: kn3, markov2."
    assert len(stack.slack.responses(response_url)) == (5 if why == "used_url" else 0)


def test_a_worker_killed_mid_reply_is_rerun_and_continues_where_it_stopped(stack):
    """Killed while seeding the second keycap; rq's abandoned-job sweep reruns the job: no second headline,
    no second list, each keycap once (the one Slack already had answers `already_reacted`)."""
    channel = "CKILL"
    stack.slack.fail("reactions.add", "", delay=2.0, when=lambda p: p["channel"] == channel and p["name"] == "two")
    stack.slash("cats 3", channel=channel, team="TKILL")
    wait_for(lambda: any(r["name"] == "two" for r in stack.attempts("reactions.add", channel)), "the second seed")
    kill_the_worker_and_start_another(stack)
    wait_for(lambda: len(stack.attempts("reactions.add", channel)) >= 4, "the rerun's seeds")
    settled(stack)
    assert len(stack.posts(channel)) == 2
    assert [r["name"] for r in stack.attempts("reactions.add", channel)] == ["one", "two", "two", "three"]
    assert stack.slack.reactions[(channel, stack.posts(channel)[1]["_ts"])] == {
        (BOT_USER, "one"),
        (BOT_USER, "two"),
        (BOT_USER, "three"),
    }


def kill_the_worker_and_start_another(stack: Stack) -> None:
    """SIGKILL the worker mid-job, let Slack finish the call it was waiting on (2 s delayed), have
    rq's sweep fail its job over now, and start a new worker, which reruns it."""
    worker = stack.processes[0]
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    time.sleep(2.5)  # the delayed call completes at Slack after its caller died
    StartedJobRegistry(QUEUE, connection=stack.redis).cleanup(timestamp=time.time() + 3600)  # rq's sweep, now
    stack.processes[0] = start_worker(stack.env, stack.redis)


def busy_worker(stack: Stack, channel: str) -> None:
    """The one worker stuck for 3 s in a slow Slack call (a headline in ``channel``)."""
    stack.slack.fail("chat.postMessage", "", delay=3.0, when=lambda p: p["channel"] == channel)
    stack.slash("cats 2", channel=channel)
    wait_for(lambda: stack.attempts("chat.postMessage", channel), "the worker to be busy")


def received(stack: Stack, channels: list[str], thread: bool) -> list[float]:
    """When Slack received each post in ``channels`` (headlines, or the candidates in their threads)."""
    with stack.slack.lock:
        calls = list(zip(stack.slack.calls, stack.slack.times))
    return [
        t
        for (method, p), t in calls
        if method == "chat.postMessage" and p.get("channel") in channels and ("thread_ts" in p) == thread
    ]


def test_commands_that_wait_for_a_busy_worker_go_to_it_together_and_are_posted_side_by_side(stack):
    """Four commands arrive while the one worker is busy: it takes them as one job and posts the four
    replies side by side (each headline reaches Slack before Slack has answered the first: one after
    another they would be 2 s apart), each reply once."""
    channels = [f"CSIDE{i}" for i in range(4)]
    busy_worker(stack, "CSIDEBUSY")
    stack.slack.fail("chat.postMessage", "", delay=2.0, times=4, when=lambda p: p["channel"] in channels)
    for channel in channels:
        assert stack.slash("cats 2", channel=channel)[0] == 200
    wait_for(lambda: all(len(stack.posts(c)) == 2 for c in channels), "every reply")
    settled(stack)
    headlines = received(stack, channels, thread=False)
    assert len(headlines) == 4 and max(headlines) - min(headlines) < 2.0
    assert [len(stack.posts(c)) for c in channels] == [2] * 4
    results = [
        Job.fetch(i, connection=stack.redis).return_value()
        for i in FinishedJobRegistry(QUEUE, connection=stack.redis).get_job_ids()
    ]
    assert [len(r["posted"]) for r in results if r and {p["channel"] for p in r.get("posted", [])} & set(channels)] == [
        4
    ]


def test_batched_commands_in_one_channel_are_posted_in_turn_within_slacks_limit(stack):
    """Six commands in one channel wait for a busy worker together. Slack takes about one post a second
    per channel (bursts of 4): posted side by side, the replies' retries after each 429 collide until
    the job fails; in turn, each 429 is waited out and every command is answered in the first run."""
    channel = "CONECHANNEL"
    stack.slack.new_minute()
    busy_worker(stack, "CONECHANNELBUSY")
    urls = [stack.slash("cats 2", channel=channel, user=f"UONE{i}")[2] for i in range(6)]
    wait_for(lambda: len(stack.posts(channel)) >= 12, "every reply", timeout=60)
    settled(stack)
    assert len(stack.posts(channel)) == 12
    assert [stack.slack.responses(url) for url in urls] == [[]] * 6  # nobody was told to slow down
    batch = [
        job
        for job in map(
            lambda i: Job.fetch(i, connection=stack.redis),
            FinishedJobRegistry(QUEUE, connection=stack.redis).get_job_ids(),
        )
        if {p["channel"] for p in (job.return_value() or {}).get("posted", [])} == {channel}
    ]
    assert [job.retries_left for job in batch] == [2]  # one job, answered in its first run


def test_a_reply_slack_refuses_in_a_batch_is_retried_and_the_others_are_not_posted_again(stack):
    """Slack fails one of three batched replies (an unexpected error): the job fails, rq runs it again,
    and each reply continues where it stopped: every command answered once."""
    channels = [f"CBATCHERR{i}" for i in range(3)]
    busy_worker(stack, "CBATCHBUSY")
    stack.slack.fail(
        "chat.postMessage", "internal_error", when=lambda p: p["channel"] == channels[1] and "thread_ts" in p
    )
    for channel in channels:
        assert stack.slash("cats 2", channel=channel)[0] == 200
    wait_for(lambda: all(len(stack.posts(c)) == 2 for c in channels), "every reply")
    settled(stack)
    assert [len(stack.posts(c)) for c in channels] == [2, 2, 2]
    assert [len(stack.attempts("chat.postMessage", c)) for c in channels] == [2, 3, 2]
    with stack.slack.lock:
        calls = list(zip(stack.slack.calls, stack.slack.times))
    _refused, retried = [t for (m, p), t in calls if m == "chat.postMessage" and p.get("channel") == channels[1]][1:]
    assert max(received(stack, [channels[0], channels[2]], thread=True)) < retried  # the others: in the first run


def seeds_recorded(stack: Stack, channel: str) -> int:
    """The keycaps the reply in ``channel`` has recorded as added (its progress: ``store.replies``)."""
    posted = {p["_ts"] for p in stack.posts(channel)}
    for key in stack.redis.scan_iter(f"{ReplyProgress.PREFIX}*"):
        steps = {k.decode(): v.decode() for k, v in stack.redis.hgetall(key).items()}
        if steps.get("candidates") in posted:
            return int(steps.get("seeded", 0))
    return 0


def test_a_worker_killed_mid_batch_is_rerun_and_each_reply_continues_where_it_stopped(stack):
    """Three batched replies; the worker is killed while the second seeds its second keycap, the others
    done. The rerun adds what is missing and posts nothing twice."""
    channels, team = [f"CBATCHKILL{i}" for i in range(3)], "TBATCHKILL"
    stack.slack.new_minute()  # the seeds need reactions.add's budget, which the tests before spend
    busy_worker(stack, "CBATCHKILLBUSY")
    stack.slack.fail("reactions.add", "", delay=2.0, when=lambda p: p["channel"] == channels[1] and p["name"] == "two")
    for channel in channels:
        assert stack.slash("cats 3", channel=channel, team=team)[0] == 200
    seeded = lambda c: len(stack.attempts("reactions.add", c))  # noqa: E731
    recorded = lambda c: seeds_recorded(stack, c) == 3  # noqa: E731  (Slack saw them, and so did the record)
    wait_for(lambda: seeded(channels[1]) >= 2 and recorded(channels[0]) and recorded(channels[2]), "the seeds", 30)
    kill_the_worker_and_start_another(stack)
    wait_for(lambda: seeded(channels[1]) >= 4, "the rerun's seeds", timeout=30)
    settled(stack)
    assert [len(stack.posts(c)) for c in channels] == [2, 2, 2]
    assert [seeded(c) for c in channels] == [3, 4, 3]
    assert [r["name"] for r in stack.attempts("reactions.add", channels[1])] == ["one", "two", "two", "three"]


def test_a_batch_that_fails_for_good_tells_only_the_users_who_heard_nothing(stack):
    """Three batched commands: one user's request is a mistake (told so), one reply Slack refuses on
    every attempt, one posted. The job fails for good: only the refused one's user hears the apology."""
    channels = [f"CBATCHGOOD{i}" for i in range(3)]
    busy_worker(stack, "CBATCHGOODBUSY")
    stack.slack.fail("chat.postMessage", "fatal_error", times=10, when=lambda p: p["channel"] == channels[1])
    urls = [stack.slash(text, channel=c)[2] for text, c in zip(["pokemon model=kn8", "cats 2", "cats 2"], channels)]
    wait_for(lambda: stack.slack.responses(urls[1]), "the apology")
    settled(stack)
    said = [[r["text"] for r in stack.slack.responses(url)] for url in urls]
    assert len(said[0]) == 1 and "kn8 isn't available" in said[0][0]  # the mistake, and nothing more
    assert len(said[1]) == 1 and said[1][0].startswith("Sorry, something went wrong")
    assert said[2] == [] and len(stack.posts(channels[2])) == 2


def test_a_batch_timed_out_while_a_reply_waits_on_slack_is_rerun_without_posting_twice(
    trained_artifacts, tmp_path_factory
):
    """rq's job timeout interrupts the job's thread, not the threads posting: the job is given up (and
    rerun) only once they have returned, so the rerun sees what they posted and does not post it again."""
    env = {"TNAAS_QUEUE": QUEUE, "TNAAS_DEFAULT_MODEL": "kn3", "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    env |= {"TNAAS_JOB_TIMEOUT": "1", "TNAAS_AVAILABILITY_TIMEOUT": "0.01"}  # a batch's job: 2 s
    with slack_stack(trained_artifacts, tmp_path_factory.mktemp("redis"), **env) as s:
        stack = Stack(f"{s.base}/slack/events", s.base, s.slack, s.redis, s.env, s.processes)
        channels = ["CSLOW0", "CSLOW1"]
        stack.slack.fail("chat.postMessage", "", delay=1.0, when=lambda p: p["channel"] == "CSLOWBUSY")
        stack.slash("cats 2", channel="CSLOWBUSY")
        wait_for(lambda: stack.attempts("chat.postMessage", "CSLOWBUSY"), "the worker to be busy")
        headline_of_0 = lambda p: p["channel"] == channels[0] and "thread_ts" not in p  # noqa: E731
        stack.slack.fail("chat.postMessage", "", delay=4.0, when=headline_of_0)
        for channel in channels:
            assert stack.slash("cats 2", channel=channel)[0] == 200
        wait_for(lambda: all(len(stack.posts(c)) == 2 for c in channels), "every reply", timeout=30)
        settled(stack)
        assert [len(stack.posts(c)) for c in channels] == [2, 2]
        assert len(stack.attempts("chat.postMessage", channels[0])) == 2  # the slow headline once, then its thread
        retried = [
            Job.fetch(i, connection=stack.redis)
            for i in FinishedJobRegistry(QUEUE, connection=stack.redis).get_job_ids()
        ]
        assert any(job.retries_left is not None and job.retries_left < 2 for job in retried)  # it did time out


def test_a_replayed_slash_command_is_answered_once(stack):
    body = slash_form("cats 2", channel="CREPLAY", response_url=stack.slack.response_url("CREPLAY", "U1"))
    timestamp = str(int(time.time()))
    assert [signed_post(stack.url, body, FORM, SECRET, timestamp=timestamp)[0] for _ in range(3)] == [200] * 3
    wait_for(lambda: len(stack.posts("CREPLAY")) >= 2, "the reply")
    settled(stack)
    assert len(stack.posts("CREPLAY")) == 2


# -- the edge ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("pokemn", "I don't know a corpus called 'pokemn'"),
        ("", "Try `pokemon`"),
        ("pokemon 99", "between 1 and 20"),
        ("<!channel> blah=1", "I don't know the option"),
        ("pokemon ³", "digits 0-9"),
        ("dogs n=①", "digits 0-9"),
        ("pokemon model=kn٥", "I don't know a model called"),
        ("<ftp://evil.example|x> <tel:+1555|call> pokemn", "I don't know a corpus called 'pokemn'"),
    ],
)
def test_help_and_errors_are_private_and_never_echo_markup(stack, text, says):
    status, body, _ = stack.slash(text)
    assert status == 200 and says in body
    assert "<!channel>" not in body and "evil" not in body and "tel:" not in body


def test_a_model_that_is_not_trained_is_refused_with_the_list_and_no_server_path(stack):
    _, _, response_url = stack.slash("pokemon model=kn8", channel="CKN8")
    said = wait_for(lambda: stack.slack.responses(response_url), "the answer")[0]
    assert said["text"] == "The model kn8 isn't available for pokemon. Try one of: kn3, markov2."
    assert said["response_type"] == "ephemeral"


def test_the_api_refuses_an_untrained_model_the_same_way_without_a_server_path(stack):
    status, _, body = http("POST", f"{stack.base}/api/v1/generate", {"corpus": "pokemon", "model": "kn05", "n": 2})
    assert status == 400 and body == {"error": "The model kn5 isn't available for pokemon. Try one of: kn3, markov2."}


def test_user_text_is_posted_escaped_once_and_inside_its_code_span(stack):
    """Slack sends a typed `<` as `&lt;`; backticks in the text must not close the headline's code span."""
    stack.slash("is a &lt;b&gt; `rm` &amp; c", channel="CESCAPE")
    headline = wait_for(lambda: stack.posts("CESCAPE"), "the reply")[0]["text"]
    assert headline == "<@U1> asked what `a &lt;b&gt; ˋrmˋ &amp; c` sounds like"


def unsigned(stack, body: bytes, content_type: str, timestamp: str | None, sig: str | None) -> int:
    headers = {"Content-Type": content_type}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if sig is not None:
        headers["X-Slack-Signature"] = sig
    return post(stack.url, body, headers)[0]


@pytest.mark.parametrize("timestamp", ["abc", "", "1.5", "-1", " 123", "1e9", "9" * 40])
def test_malformed_timestamps_get_401(stack, timestamp):
    body = slash_form("pokemon")
    assert unsigned(stack, body, FORM, timestamp, "v0=" + "0" * 64) == 401
    assert unsigned(stack, body, FORM, timestamp, signature(SECRET, timestamp, body)) == 401


@pytest.mark.parametrize("sig", [None, "", "v0=zz", "v1=" + "0" * 64, "v0=é" + "0" * 63, "v0=" + "0" * 64])
def test_malformed_or_wrong_signatures_get_401(stack, sig):
    assert unsigned(stack, slash_form("pokemon"), FORM, str(int(time.time())), sig) == 401


def test_stale_or_forged_requests_get_401(stack):
    assert stack.slash("pokemon", secret="wrong")[0] == 401
    assert stack.slash("pokemon", age=10 * 60)[0] == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{bad", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (json.dumps({"command": "/techname", "text": "pokemon"}).encode(), "application/json"),
        (b"payload=%7Bbad", FORM),
        (b"payload=%5B1%5D", FORM),
        (b"text=pokemon", FORM),
        (b"command=/techname", "text/plain"),
    ],
)
def test_malformed_bodies_get_400_when_signed_and_401_when_not(stack, body, content_type):
    timestamp = str(int(time.time()))
    assert unsigned(stack, body, content_type, timestamp, signature(SECRET, timestamp, body)) == 400
    assert unsigned(stack, body, content_type, timestamp, None) == 401


CLICK = {
    "type": "block_actions",
    "user": {"id": "U5", "team_id": "T1"},
    "team": {"id": "T1"},
    "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1"},
    "actions": [{"type": "button", "action_id": "vote_1", "block_id": "b", "value": "1", "action_ts": "1"}],
}


def payload_form(*payloads: dict) -> bytes:
    return urllib.parse.urlencode([("payload", json.dumps(p)) for p in payloads]).encode()


def envelope(**fields) -> bytes:
    event = {"type": "app_mention", "user": "U2", "text": "cats", "channel": "C9", "ts": "1.1", "event_ts": "1.1"}
    body = {"type": "event_callback", "team_id": "T1", "event_id": "EvShape", "event": event}
    return json.dumps(body | fields).encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (payload_form(CLICK | {"actions": []}), FORM),
        (payload_form(CLICK | {"actions": "vote_1"}), FORM),
        (payload_form(CLICK | {"actions": [None]}), FORM),
        (payload_form(CLICK | {"actions": [{"type": "button", "value": "1"}]}), FORM),  # no action_id
        (payload_form(CLICK, CLICK | {"actions": []}), FORM),  # two payload fields (Bolt read the last)
        (payload_form(CLICK | {"team": 7}), FORM),
        (payload_form(CLICK | {"user": "U5"}), FORM),
        (payload_form(CLICK | {"authorizations": [None]}), FORM),
        (payload_form({"type": "view_closed", "view": []}), FORM),  # the modal does not ask for it: Slack sends none
        (payload_form({"type": "view_submission", "user": {"id": "U5"}, "team": {"id": "T1"}}), FORM),  # no view
        (payload_form({"type": "view_submission", "user": {"id": "U5"}, "view": {"state": []}}), FORM),
        (payload_form({"type": "shortcut", "user": {"id": "U5"}, "team": {"id": "T1"}}), FORM),  # no callback_id
        (urllib.parse.urlencode({"command": "/techname", "text": "cats", "channel_id": "C1"}).encode(), FORM),
        (envelope(event="app_mention"), "application/json"),
        (envelope(event=None), "application/json"),
        (envelope(authorizations={"team_id": "T1"}), "application/json"),
        (envelope(type=["event_callback"]), "application/json"),
    ],
)
def test_signed_bodies_slack_never_sends_get_400_not_500(stack, body, content_type):
    """Before: each raised inside Bolt or our endpoint (HTTP 500), but a click whose user is a bare id
    (Bolt found no listener for it: 404)."""
    timestamp = str(int(time.time()))
    assert unsigned(stack, body, content_type, timestamp, signature(SECRET, timestamp, body)) == 400


def test_a_body_that_is_not_utf8_gets_400_signed_or_not(stack):
    timestamp, body = str(int(time.time())), b"command=%2Ftechname&text=\xff\xfe"
    assert unsigned(stack, body, FORM, timestamp, signature(SECRET, timestamp, body)) == 400
    assert unsigned(stack, body, FORM, timestamp, None) == 400


def test_an_oversized_body_is_refused_without_freezing_the_process(stack):
    """A declared 10 MB gets 413 before any of it is read; a chunked body without a declared length is cut
    at the cap. Meanwhile /healthz keeps answering."""
    answered = []

    def health_while_busy():
        for _ in range(5):
            start = time.perf_counter()
            status, _, _ = http("GET", f"{stack.base}/healthz")
            answered.append((status, time.perf_counter() - start))

    thread = threading.Thread(target=health_while_busy)
    thread.start()
    declared = {"Content-Type": FORM, "Content-Length": "10000000", "X-Slack-Request-Timestamp": "1"}
    status, _ = post_while_refused(f"{stack.base}/slack/events", declared, [b"a=" + b"x" * 65536])
    assert status == 413
    chunked = {"Content-Type": FORM, "Transfer-Encoding": "chunked"}
    piece = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(2 * SLACK_MAX_BODY // len(piece))] + [b"0\r\n\r\n"]
    status, body = post_while_refused(f"{stack.base}/slack/events", chunked, chunks)
    thread.join()
    assert status == 413 and "at most" in body
    assert all(s in (200, 503) and seconds < 2 for s, seconds in answered)


def test_a_slack_job_that_waited_too_long_says_busy_instead_of_answering_late(stack):
    """No worker takes this queue for 2 s (> TNAAS_QUEUE_TTL=1), then one does: the user hears "busy"."""
    from datetime import datetime, timedelta

    from bot.slack.batching import slack_job, start_slack_batch
    from core.settings import Settings
    from jobs.contracts import GenerateRequest, ReplyTo
    from jobs.queueing import queued_too_long

    now = datetime.now(UTC)
    assert queued_too_long(now - timedelta(seconds=31), 30, now)
    assert not queued_too_long(now - timedelta(seconds=5), 30, now)
    settings = Settings(redis_url="unused", queue="slack-stale", queue_ttl=1)
    reply = ReplyTo(kind="mention", channel="C5", user="U5", thread_ts="1.5", team="T1")
    start_slack_batch(stack.redis, slack_job(GenerateRequest(corpus="pokemon"), reply), settings)
    time.sleep(2)
    ephemerals = len(stack.slack.called("chat.postEphemeral"))
    env = stack.env | {"TNAAS_QUEUE": "slack-stale", "TNAAS_QUEUE_TTL": "1"}
    worker = subprocess.run(
        [sys.executable, "-m", "tnaas", "worker", "--burst"], env=env, capture_output=True, timeout=120
    )
    assert worker.returncode == 0
    said = stack.slack.called("chat.postEphemeral")[ephemerals:]
    assert [(s["channel"], s["user"], s["text"]) for s in said] == [
        ("C5", "U5", "I'm busy right now: try again in a moment.")
    ]


# -- a candidate's actions and the team shortlist ------------------------------------------------------
def menu_choice(index: int, what: str) -> dict:
    return {"type": "overflow", "action_id": f"more_{index}", "selected_option": {"value": what}}


def said(stack: Stack, response_url: str) -> str:
    return wait_for(lambda: stack.slack.responses(response_url), "the private answer")[0]["text"]


def test_each_candidate_has_vote_shortlist_and_a_menu_within_block_kits_limits(stack):
    stack.slash("cats 2", channel="CACTIONS")
    candidates = wait_for(lambda: len(p := stack.posts("CACTIONS")) >= 2 and p, "the reply")[1]
    blocks = blocks_of(candidates)
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    menus = [b["accessory"] for b in blocks if b.get("accessory", {}).get("type") == "overflow"]
    assert buttons == ["vote_1", "shortlist_1", "vote_2", "shortlist_2"]
    assert [m["action_id"] for m in menus] == ["more_1", "more_2"]
    checked = " on PyPI" in blocks[0]["text"]["text"]  # a line that shows its availability does not offer to check it
    assert [o["value"] for o in menus[0]["options"]] == ["like", "down"] if checked else ["like", "check", "down"]
    context = blocks[-1]["elements"][0]["text"]
    made_by = context.split("Made by ")[1]  # the default model, or the one earlier tests' votes picked
    assert made_by.startswith(("Kneser-Ney, ", "Markov chain, ")) and "letters of context" in made_by
    assert "(" not in made_by
    assert stack.slack.block_refusals == []


def test_the_menu_asks_for_more_like_a_name_in_its_thread_and_down_votes(stack):
    stack.slash("cats 2", channel="CMENU")
    parent, candidates = wait_for(lambda: len(p := stack.posts("CMENU")) >= 2 and p, "the reply")[:2]
    store = VoteStore(stack.redis)
    wait_for(lambda: store.name_of("CMENU", candidates["_ts"], 2), "the impressions")
    _, url = stack.act(menu_choice(2, "down"), channel="CMENU", message_ts=candidates["_ts"])
    assert said(stack, url).startswith("You voted down *")
    wait_for(lambda: store.tally("CMENU", candidates["_ts"]) == {2: {"up": 0, "down": 1}}, "the down-vote")
    _, url = stack.act(menu_choice(1, "like"), channel="CMENU", message_ts=candidates["_ts"])
    assert said(stack, url).startswith("On it: names like *")
    more = wait_for(lambda: len(p := stack.posts("CMENU")) >= 3 and p, "more like it", timeout=60)[2]
    assert more["thread_ts"] == parent["_ts"] and len(blocks_of(more)) > 2


def test_the_shortlist_button_adds_once_and_home_shows_removes_and_exports_it(stack):
    stack.slash("cats 2", channel="CSHORT")
    candidates = wait_for(lambda: len(p := stack.posts("CSHORT")) >= 2 and p, "the reply")[1]
    store = VoteStore(stack.redis)
    name = wait_for(lambda: store.name_of("CSHORT", candidates["_ts"], 1), "the impressions")
    shortlist = Shortlists(stack.redis)
    button = {"type": "button", "action_id": "shortlist_1", "value": "1"}
    _, first = stack.act(button, channel="CSHORT", message_ts=candidates["_ts"])
    _, again = stack.act(button, channel="CSHORT", message_ts=candidates["_ts"], user="U6")
    assert "is on your team's shortlist now" in said(stack, first) and "already" in said(stack, again)
    assert [(e.name, e.corpus, e.user) for e in shortlist.entries("T1")] == [(name, "cats", "U5")]
    _, ack, _ = stack.slash("shortlist", channel="CSHORT")
    assert f"*{name}* (cats), added by <@U5>" in ack

    assert stack.event({"type": "app_home_opened", "user": "U5", "tab": "home"}, "EvHomeShort") == 200
    home = wait_for(lambda: stack.slack.views.get(("T1", "U5")), "the Home tab")
    lines = [b for b in home["blocks"] if b.get("accessory", {}).get("action_id") == "unshortlist_1"]
    assert len(lines) == 1 and name in lines[0]["text"]["text"]

    status, _ = stack.act({"type": "button", "action_id": "shortlist_export", "value": "csv"})
    assert status == 200
    shared = wait_for(lambda: stack.slack.files, "the CSV file")[0]
    rows = shared["data"].decode().splitlines()
    assert rows[0] == "name,corpus,added_by,added_at" and rows[1].startswith(f"{name},cats,U5,")
    assert shared["channel"] == "DU5" and shared["name"] == "shortlist.csv"

    stack.slack.views.pop(("T1", "U5"))
    remove = lines[0]["accessory"]
    stack.act({"type": "button", "action_id": remove["action_id"], "value": remove["value"]})
    stack.act({"type": "button", "action_id": remove["action_id"], "value": remove["value"]})  # gone already
    wait_for(lambda: shortlist.entries("T1") == [], "the removal")
    home = wait_for(lambda: stack.slack.views.get(("T1", "U5")), "the Home tab again")
    assert name not in json.dumps(home["blocks"]) and stack.slack.block_refusals == []
    shortlist.forget_team("T1")


def test_forged_and_malformed_candidate_clicks_are_answered_politely_and_do_nothing(stack):
    stack.slash("cats 2", channel="CFORGED")
    candidates = wait_for(lambda: len(p := stack.posts("CFORGED")) >= 2 and p, "the reply")[1]
    ts = candidates["_ts"]
    store = VoteStore(stack.redis)
    wait_for(lambda: store.name_of("CFORGED", ts, 1), "the impressions")
    status, _ = stack.act({"type": "button", "action_id": "explode_1", "value": "1"}, channel="CFORGED", message_ts=ts)
    assert status == 404  # no listener: Bolt answers it is not handled
    _, url = stack.act(menu_choice(1, "rm -rf"), channel="CFORGED", message_ts=ts)
    assert said(stack, url).startswith("I don't know that choice")
    _, url = stack.act({"type": "button", "action_id": "shortlist_1", "value": "x|y"}, channel="CFORGED", message_ts=ts)
    assert said(stack, url).startswith("I don't know that choice")
    _, url = stack.act(
        {"type": "button", "action_id": "shortlist_1", "value": "1"}, channel="CFORGED", message_ts=ts, team="TOTHER"
    )
    assert said(stack, url).startswith("Voting on that message has closed")
    _, url = stack.act(menu_choice(1, "like"), channel="CFORGED", message_ts=ts, team="TOTHER")
    assert said(stack, url).startswith("Voting on that message has closed")
    _, url = stack.act(menu_choice(9, "down"), channel="CFORGED", message_ts=ts)
    assert said(stack, url).startswith("Voting on that message has closed")
    settled(stack)
    assert Shortlists(stack.redis).entries("T1") == [] and Shortlists(stack.redis).entries("TOTHER") == []
    assert store.tally("CFORGED", ts) == {} and len(stack.posts("CFORGED")) == 2


# -- the "Name something" modal ------------------------------------------------------------------------
def submit(stack: Stack, view: dict, values: dict, team: str = "T1", callback_id: str | None = None):
    """A person submits the modal ``view`` with ``values`` (signed as Slack signs it): (status, body)."""
    view = dict(view)
    state = {name: {name: value} for name, value in values.items()}
    payload = {
        "type": "view_submission",
        "team": {"id": team},
        "user": {"id": "U1", "team_id": team},
        "api_app_id": "A1",
        "trigger_id": view.pop("trigger_id", "t"),
        "view": view | {"state": {"values": state}} | ({"callback_id": callback_id} if callback_id else {}),
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return signed_post(stack.url, body, FORM, SECRET)


FORM_VALUES = {
    "corpus": {"type": "static_select", "selected_option": {"value": "cats"}},
    "model": {"type": "static_select", "selected_option": {"value": "best"}},
    "n": {"type": "number_input", "value": "2"},
    "pattern": {"type": "plain_text_input", "value": None},
    "like": {"type": "plain_text_input", "value": None},
    "free": {"type": "checkboxes", "selected_options": []},
    "where": {"type": "conversations_select", "selected_conversation": "CPOSTED"},
}


def test_techname_alone_opens_the_modal_and_its_submission_posts_once_where_chosen(stack):
    status, ack, _ = stack.slash("", channel="CMODAL", trigger=stack.slack.trigger())
    assert status == 200 and "Try" not in ack
    modal = wait_for(lambda: stack.slack.modals, "the modal")[-1]
    assert modal["callback_id"] == "name_something" and modal["title"]["text"] == "Name something"
    blocks = {b["block_id"]: b["element"] for b in modal["blocks"]}
    assert blocks["where"]["initial_conversation"] == "CMODAL" and blocks["n"]["max_value"] == "20"
    assert "cats" in [o["value"] for o in blocks["corpus"]["options"]] and stack.slack.block_refusals == []
    assert submit(stack, modal, FORM_VALUES) == (200, "")
    assert submit(stack, modal, FORM_VALUES) == (200, "")  # submitted again: one answer
    parent, candidates = wait_for(lambda: len(p := stack.posts("CPOSTED")) >= 2 and p, "the names")[:2]
    assert parent["text"] == "<@U1> asked for 2 cats names" and candidates["thread_ts"] == parent["_ts"]
    settled(stack)
    assert len(stack.posts("CPOSTED")) == 2


def test_the_global_shortcut_opens_the_modal_and_bad_or_forged_submissions_do_nothing(stack):
    shortcut = {
        "type": "shortcut",
        "callback_id": "name_something",
        "trigger_id": stack.slack.trigger(),
        "user": {"id": "U1", "team_id": "T1"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "action_ts": "1",
    }
    body = urllib.parse.urlencode({"payload": json.dumps(shortcut)}).encode()
    before = len(stack.slack.modals)
    assert signed_post(stack.url, body, FORM, SECRET)[0] == 200
    modal = wait_for(lambda: len(stack.slack.modals) > before and stack.slack.modals, "the modal")[-1]
    where = next(b for b in modal["blocks"] if b["block_id"] == "where")["element"]
    assert where.get("default_to_current_conversation") is True

    status, ack, _ = stack.slash("", channel="CMODAL2", trigger=stack.slack.trigger(age=10))  # expired trigger
    assert status == 200 and "Try `pokemon`" in ack and len(stack.slack.modals) == before + 1

    status, said = submit(stack, modal | {"id": "VBAD1"}, FORM_VALUES | {"n": {"value": "99"}})
    assert status == 200 and json.loads(said)["response_action"] == "errors"
    assert "between 1 and 20" in json.loads(said)["errors"]["corpus"]
    status, said = submit(
        stack,
        modal | {"id": "VBAD2"},
        FORM_VALUES | {"pattern": {"value": "k*fka"}, "corpus": {"selected_option": {"value": "cobol"}}},
    )
    assert "cobol" in json.loads(said)["errors"]["pattern"]
    assert submit(stack, modal | {"id": "VBAD3"}, FORM_VALUES, callback_id="forged")[0] == 404
    settled(stack)
    assert stack.posts("CPOSTED2") == [] and stack.attempts("chat.postMessage", "CPOSTED") == stack.posts("CPOSTED")


def message_shortcut(
    stack: Stack, text: str, channel: str, ts: str, team: str = "T1", trigger_age: float = 0
) -> tuple[int, str]:
    """A person picks "Names like this" on a message: (status, the shortcut's response_url)."""
    response_url = stack.slack.response_url(channel, "U1")
    payload = {
        "type": "message_action",
        "callback_id": "names_like_this",
        "trigger_id": stack.slack.trigger(team, age=trigger_age),
        "user": {"id": "U1", "team_id": team},
        "team": {"id": team},
        "channel": {"id": channel},
        "message": {"type": "message", "user": "U2", "text": text, "ts": ts},
        "response_url": response_url,
        "api_app_id": "A1",
        "action_ts": "1",
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return signed_post(stack.url, body, FORM, SECRET)[0], response_url


def test_names_like_this_answers_in_the_messages_thread_and_says_when_there_is_no_word(stack):
    """This stack trains no model for the default corpus (pypi): the answer in the thread is then the
    polite "not available", privately; with one, the names (the menu's "more like this" test shows them)."""
    status, url = message_shortcut(stack, "<@U2> Kafka! :tada:", "CLIKETHIS", "1700000555.000100")
    assert status == 200

    def answered():
        return stack.attempts("chat.postMessage", "CLIKETHIS") + stack.attempts("chat.postEphemeral", "CLIKETHIS")

    answer = wait_for(answered, "the answer to names like kafka", 90)[0]
    assert answer["thread_ts"] == "1700000555.000100" and answer.get("user", "U1") == "U1"
    status, url = message_shortcut(stack, "<!here> 42 :tada:", "CLIKETHIS", "1700000555.000200")
    assert status == 200 and said(stack, url).startswith("That message has no word")
    settled(stack)
    assert len(answered()) == 1


def word_picker(stack: Stack, before: int) -> dict:
    return wait_for(lambda: len(stack.slack.modals) > before and stack.slack.modals, "the word picker")[-1]


def pick(stack: Stack, modal: dict, word: str, **kw) -> tuple[int, str]:
    """The person submits the word picker with ``word``; the stand-in applies the ack as Slack would."""
    status, ack = submit(stack, modal, {"word": {"type": "static_select", "selected_option": {"value": word}}}, **kw)
    if status == 200:
        stack.slack.submitted(modal["id"], ack)
    return status, ack


def answered_in(stack: Stack, channel: str) -> list[dict]:
    return stack.attempts("chat.postMessage", channel) + stack.attempts("chat.postEphemeral", channel)


def updates_of(stack: Stack, view_id: str) -> list[dict]:
    return [p for p in stack.slack.called("views.update") if p.get("view_id") == view_id]


def test_names_like_this_on_several_words_opens_a_picker_and_answers_the_picked_word_in_the_thread(stack):
    before, ts = len(stack.slack.modals), "1700000556.000100"
    status, _ = message_shortcut(stack, "<@U2> Kafka is our queue, kafka :tada: <https://x.io|link>", "CPICK", ts)
    assert status == 200
    modal = word_picker(stack, before)
    assert modal["callback_id"] == "names_like_this_word" and stack.slack.block_refusals == []
    select = modal["blocks"][0]["element"]
    assert [o["value"] for o in select["options"]] == ["Kafka", "is", "our", "queue"]  # links and mentions left out
    assert select["initial_option"]["value"] == "Kafka"
    assert json.loads(modal["private_metadata"]) == {"team": "T1", "user": "U1", "channel": "CPICK", "ts": ts}

    status, ack = pick(stack, modal, "queue")
    working = json.loads(ack)
    assert status == 200 and working["response_action"] == "update"
    assert "Working on it" in working["view"]["blocks"][0]["text"]["text"] and "submit" not in working["view"]
    again = pick(stack, modal | {"trigger_id": "t2"}, "queue")  # Slack's retry (signed anew): one answer
    assert again[0] == 200 and json.loads(again[1])["response_action"] == "update"
    answer = wait_for(lambda: answered_in(stack, "CPICK"), "the answer to names like queue", 90)[0]
    assert answer["thread_ts"] == ts
    done = wait_for(lambda: [v for v in stack.slack.view_updates if v["id"] == modal["id"]], "the done state")[0]
    assert "names like `queue`" in done["blocks"][0]["text"]["text"] and "Working" not in json.dumps(done)
    settled(stack)
    assert len(answered_in(stack, "CPICK")) == 1 and len(updates_of(stack, modal["id"])) == 1
    assert stack.slack.block_refusals == []


@pytest.mark.parametrize("code", ["not_found", "hash_conflict", "view_too_large", "invalid_arguments", "fatal_error"])
def test_a_picker_slack_will_not_update_still_gets_its_answer_once_and_no_retry(stack, code):
    before, channel, ts = len(stack.slack.modals), f"CPICK{code.upper().replace('_', '')}", "1700000557.000100"
    assert message_shortcut(stack, "Kafka is our queue", channel, ts)[0] == 200
    modal = word_picker(stack, before)
    if code == "not_found":
        pick(stack, modal, "Kafka")
        stack.slack.closed(modal["id"])  # the person closed it before the names came
    else:
        stack.slack.fail("views.update", code, when=lambda p: p.get("view_id") == modal["id"])
        pick(stack, modal, "Kafka")
    wait_for(lambda: answered_in(stack, channel), "the answer", 90)
    wait_for(lambda: updates_of(stack, modal["id"]), "the update tried")
    settled(stack)
    assert len(answered_in(stack, channel)) == 1 and len(updates_of(stack, modal["id"])) == 1


def test_forged_word_picker_submissions_are_answered_under_the_picker_and_do_nothing(stack):
    before, ts = len(stack.slack.modals), "1700000558.000100"
    assert message_shortcut(stack, "Kafka is our queue", "CPICKFORGED", ts)[0] == 200
    modal = word_picker(stack, before)
    ours = json.loads(modal["private_metadata"])
    forged = {
        "VF1": "x" * 4000,  # oversized
        "VF2": "not json",
        "VF3": json.dumps(ours | {"extra": "1"}),  # not ours
        "VF4": json.dumps(ours | {"team": "T2"}),  # another team's
        "VF5": json.dumps(ours | {"user": "U9"}),  # opened for someone else
        "VF6": json.dumps(ours | {"channel": "<!channel>"}),
    }
    for view_id, metadata in forged.items():
        status, ack = pick(stack, modal | {"id": view_id, "private_metadata": metadata}, "queue")
        assert status == 200 and json.loads(ack)["errors"]["word"].startswith("I can't tell which message"), view_id
    status, ack = pick(stack, modal | {"id": "VF7", "team_id": "T2"}, "queue")  # the view is another team's
    assert json.loads(ack)["errors"]["word"].startswith("I can't tell which message")
    assert pick(stack, modal | {"id": "VF8"}, "queue", team="TOTHER") == (200, "")  # a team without the app
    assert pick(stack, modal | {"id": "VF9"}, "queue", callback_id="forged")[0] == 404
    settled(stack)
    assert answered_in(stack, "CPICKFORGED") == []
    assert not [p for p in stack.slack.called("views.update") if str(p.get("view_id", "")).startswith("VF")]


def test_names_like_this_answers_the_first_word_when_the_picker_cannot_open(stack):
    before, ts = len(stack.slack.modals), "1700000559.000100"
    assert message_shortcut(stack, "Kafka is our queue", "CPICKLATE", ts, trigger_age=10)[0] == 200  # expired
    answer = wait_for(lambda: answered_in(stack, "CPICKLATE"), "the answer to names like kafka", 90)[0]
    assert answer["thread_ts"] == ts and len(stack.slack.modals) == before


def test_shortcuts_and_forms_of_another_team_or_view_do_nothing(stack):
    """A team that never installed the app (this stack has one workspace's token), or a view of another
    team submitted here: acknowledged, nothing opened, posted or queued."""
    before, asked = len(stack.slack.modals), stack.slack.count("views.open")
    shortcut = {
        "type": "shortcut",
        "callback_id": "name_something",
        "trigger_id": stack.slack.trigger("TOTHER"),
        "user": {"id": "U1", "team_id": "TOTHER"},
        "team": {"id": "TOTHER"},
        "api_app_id": "A1",
        "action_ts": "1",
    }
    body = urllib.parse.urlencode({"payload": json.dumps(shortcut)}).encode()
    assert signed_post(stack.url, body, FORM, SECRET) == (200, "")
    status, url = message_shortcut(stack, "Kafka is our queue", "CWRONGTEAM", "1700000560.000100", team="TOTHER")
    assert status == 200

    status, _, _ = stack.slash("", channel="CWRONGTEAM", trigger=stack.slack.trigger())
    modal = wait_for(lambda: len(stack.slack.modals) > before and stack.slack.modals, "the modal")[-1]
    elsewhere = FORM_VALUES | {"where": {"type": "conversations_select", "selected_conversation": "CWRONGPOST"}}
    assert submit(stack, modal | {"id": "VWT1"}, elsewhere, team="TOTHER") == (200, "")
    status, said = submit(stack, modal | {"id": "VWT2", "team_id": "T2"}, elsewhere)
    assert status == 200 and "another workspace" in json.loads(said)["errors"]["corpus"]
    settled(stack)
    assert len(stack.slack.modals) == before + 1 and stack.slack.count("views.open") == asked + 1
    assert stack.slack.responses(url) == [] and answered_in(stack, "CWRONGTEAM") == []
    assert stack.attempts("chat.postMessage", "CWRONGPOST") == []


def test_an_export_without_the_files_scope_sends_nothing_and_is_not_retried(stack):
    Shortlists(stack.redis).add("T1", "zappy", "cats", "U7")
    asked = stack.slack.count("files.getUploadURLExternal")
    stack.slack.token(TOKEN, "T1", scopes=SCOPES.replace(",files:write", ""))
    try:
        assert stack.act({"type": "button", "action_id": "shortlist_export", "value": "csv"}, user="U7")[0] == 200
        wait_for(lambda: stack.slack.count("files.getUploadURLExternal") > asked, "the upload asked for")
        settled(stack)
    finally:
        stack.slack.token(TOKEN, "T1")
        Shortlists(stack.redis).forget_team("T1")
    assert stack.slack.count("files.getUploadURLExternal") == asked + 1  # missing_scope: logged, not retried
    assert not [f for f in stack.slack.files if f["channel"] == "DU7"]
