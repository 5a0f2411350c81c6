"""Each Slack listener on its own: called as Bolt calls it, with a mocked ``ack`` and client, on a
real redis-server. (The end-to-end path over HTTP is in test_slack.py.)"""

from unittest.mock import Mock

import pytest
from redis import Redis
from rq import Queue
from slack_bolt.context import BoltContext

from bot.listeners.app_mention import app_mention
from bot.listeners.deps import KEY, SlackDeps
from bot.listeners.reactions import reaction_added, reaction_removed
from bot.listeners.techname import techname
from jobs.contracts import SlackJob
from store.votes import Impression, VoteStore
from tnaas.redis_server import EmbeddedRedis
from tnaas.settings import Settings


@pytest.fixture
def context(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    settings = Settings(redis_url=server.url, queue="listeners")
    yield BoltContext({KEY: SlackDeps(Redis.from_url(server.url), settings), "bot_user_id": "UBOT"})
    server.stop()


def queued(context) -> list[SlackJob]:
    deps = context[KEY]
    return [SlackJob.model_validate(job.args[0]) for job in Queue(deps.settings.queue, connection=deps.connection).jobs]


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
