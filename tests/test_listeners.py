"""Each Slack listener on its own: called as Bolt calls it, with a mocked ``ack`` and client, on a
real redis-server. (The end-to-end path over HTTP is in test_slack.py.)"""

from unittest.mock import Mock

import pytest
from redis import Redis
from rq import Queue
from slack_bolt.context import BoltContext

from bot.slack.deps import KEY, SlackDeps
from bot.slack.listeners.app_mention import app_mention
from bot.slack.listeners.reactions import reaction_added, reaction_removed
from bot.slack.listeners.techname import techname
from core.settings import Settings
from jobs.contracts import SlackJob
from store.replies import ReplyTeams
from store.slack_batches import SlackBatches
from store.votes import Impression, VoteStore
from tnaas.redis_server import EmbeddedRedis


@pytest.fixture
def context(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    settings = Settings(redis_url=server.url, queue="listeners")
    yield BoltContext({KEY: SlackDeps(Redis.from_url(server.url), settings), "bot_user_id": "UBOT"})
    server.stop()


def queued(context) -> list[SlackJob]:
    """The Slack requests queued, in order: those of each queued batch job."""
    deps = context[KEY]
    jobs = Queue(deps.settings.queue, connection=deps.connection).jobs
    batches = SlackBatches(deps.connection)
    return [SlackJob.model_validate_json(item) for job in jobs for item in batches.items(job.args[0]["batch"])]


def test_techname_help_is_answered_in_the_ack_and_nothing_is_queued(context):
    ack = Mock()
    techname(ack=ack, command={"text": "help", "channel_id": "C1", "user_id": "U1", "team_id": "T1"}, context=context)
    assert "Try `pokemon`" in ack.call_args.kwargs["text"] and queued(context) == []


def test_techname_queues_the_request_and_acks_empty(context):
    ack = Mock()
    techname(
        ack=ack, command={"text": "pokemon 3", "channel_id": "C1", "user_id": "U1", "team_id": "T1"}, context=context
    )
    ack.assert_called_once_with()
    [job] = queued(context)
    assert job.request.corpus == "pokemon" and job.request.n == 3
    assert (job.reply.kind, job.reply.channel, job.reply.user) == ("slash", "C1", "U1")


def test_a_mention_with_a_mistake_is_told_privately_and_its_retry_ignored(context):
    client = Mock()
    body = {"event_id": "Ev1", "team_id": "T1"}
    event = {"type": "app_mention", "user": "U2", "text": "<@UBOT> pokemn", "channel": "C9", "ts": "1.2"}
    app_mention(body=body, event=event, client=client, context=context)
    app_mention(body=body, event=event, client=client, context=context)  # Slack's retry
    client.chat_postEphemeral.assert_called_once()
    said = client.chat_postEphemeral.call_args.kwargs
    assert said["user"] == "U2" and said["thread_ts"] == "1.2" and "pokemn" in said["text"]


def test_reactions_by_people_are_votes_and_the_bots_own_are_not(context):
    votes = VoteStore(context[KEY].connection)
    votes.record_impressions(
        [
            Impression(
                channel="C1", ts="5.5", index=i, name=n, corpus="cats", model="kn3", model_version="v", shown_at=0.0
            )
            for i, n in enumerate(["tom", "felix"], 1)
        ]
    )
    item = {"type": "message", "channel": "C1", "ts": "5.5"}
    reaction_added(body={"event_id": "E1"}, event={"user": "UBOT", "reaction": "one", "item": item}, context=context)
    reaction_added(body={"event_id": "E2"}, event={"user": "U1", "reaction": "two", "item": item}, context=context)
    assert votes.tally("C1", "5.5") == {2: {"up": 1, "down": 0}}
    reaction_removed(body={"event_id": "E3"}, event={"user": "U1", "reaction": "two", "item": item}, context=context)
    assert votes.tally("C1", "5.5") == {}


def test_a_direct_message_is_a_command_and_the_bots_own_messages_are_not(context):
    from bot.slack.listeners.direct_message import direct_message

    client = Mock()
    event = {"type": "message", "channel_type": "im", "user": "U3", "text": "pokemon 2", "channel": "D3", "ts": "1.1"}
    direct_message(body={"event_id": "E1", "team_id": "T1"}, event=event, client=client, context=context)
    [job] = queued(context)
    assert (job.reply.kind, job.reply.channel, job.reply.thread_ts, job.reply.team) == ("dm", "D3", None, "T1")
    edited = event | {"subtype": "message_changed"}
    direct_message(body={"event_id": "E2", "team_id": "T1"}, event=edited, client=client, context=context)
    in_channel = event | {"channel_type": "channel"}
    direct_message(body={"event_id": "E3", "team_id": "T1"}, event=in_channel, client=client, context=context)
    assert len(queued(context)) == 1 and not client.method_calls
    direct_message(body={"event_id": "E4"}, event=event | {"text": "help"}, client=client, context=context)
    assert client.chat_postMessage.call_args.kwargs["channel"] == "D3"


def test_an_error_for_someone_not_in_the_channel_goes_to_a_direct_message(context):
    from slack_sdk.errors import SlackApiError

    client = Mock()
    client.chat_postEphemeral.side_effect = SlackApiError("no", {"ok": False, "error": "user_not_in_channel"})
    event = {"type": "app_mention", "user": "U6", "text": "<@UBOT> pokemn", "channel": "C9", "ts": "1.2"}
    app_mention(body={"event_id": "Ev9", "team_id": "T1"}, event=event, client=client, context=context)
    assert client.chat_postMessage.call_args.kwargs["channel"] == "U6"
    client.chat_postMessage.side_effect = SlackApiError("no", {"ok": False, "error": "channel_not_found"})
    app_mention(body={"event_id": "Ev10", "team_id": "T1"}, event=event, client=client, context=context)  # logged


def test_a_vote_button_toggles_the_vote_and_confirms_privately(context):
    from bot.slack.listeners.votes import vote_button

    votes = VoteStore(context[KEY].connection)
    votes.record_impressions(
        [
            Impression(
                channel="C1", ts="6.6", index=1, name="tom", corpus="cats", model="kn3", model_version="v", shown_at=0
            )
        ]
    )
    ReplyTeams(context[KEY].connection).record("C1", "6.6", "T1", 60)  # posted for team T1
    context["team_id"] = "T1"
    body = {"user": {"id": "U1"}, "container": {"channel_id": "C1", "message_ts": "6.6"}}
    ack, respond = Mock(), Mock()
    vote_button(ack=ack, body=body, action={"value": "1"}, respond=respond, context=context)
    ack.assert_called_once_with()
    assert (
        votes.tally("C1", "6.6") == {1: {"up": 1, "down": 0}}
        and "You voted for *tom*" in respond.call_args.kwargs["text"]
    )
    vote_button(ack=ack, body=body, action={"value": "1"}, respond=respond, context=context)
    assert votes.tally("C1", "6.6") == {} and "taken back" in respond.call_args.kwargs["text"]
    vote_button(ack=ack, body=body, action={"value": "7"}, respond=respond, context=context)
    assert "closed" in respond.call_args.kwargs["text"]


def test_opening_the_home_tab_queues_its_publication_once(context):
    from bot.slack.listeners.app_home import app_home_opened

    deps = context[KEY]
    event = {"type": "app_home_opened", "user": "U1", "tab": "home"}
    app_home_opened(body={"event_id": "EH1", "team_id": "T1"}, event=event, context=context)
    app_home_opened(body={"event_id": "EH1", "team_id": "T1"}, event=event, context=context)
    app_home_opened(body={"event_id": "EH2", "team_id": "T1"}, event=event | {"tab": "messages"}, context=context)
    jobs = Queue(deps.settings.queue, connection=deps.connection).jobs
    assert [job.args[0] for job in jobs] == [{"team": "T1", "user": "U1", "enterprise": None}]
