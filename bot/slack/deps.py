"""What the listeners and the commands they run need, put into every request's context by
``bot.slack.app``, and the one way they talk back themselves (help and errors for mentions and
direct messages)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from redis import Redis
from slack_sdk.errors import SlackApiError

from bot.slack.batching import SlackBatcher
from bot.slack.web_api import NOT_HERE, error_code
from core.settings import Settings
from jobs.contracts import ReplyTo

log = logging.getLogger(__name__)
KEY = "tnaas"  # context[KEY] is the SlackDeps


@dataclass(frozen=True)
class SlackDeps:
    connection: Redis
    settings: Settings
    batcher: SlackBatcher = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "batcher", SlackBatcher(self.connection, self.settings))


def deps_of(context) -> SlackDeps:
    return context[KEY]


def say_privately(client, reply: ReplyTo, text: str) -> None:
    """Help or an error: in a direct message, the conversation itself; for a mention, an ephemeral
    message in its thread, or a direct message where that cannot be posted. Slack's refusals are
    logged, never raised: the event is already acknowledged."""
    try:
        if reply.kind == "dm":
            client.chat_postMessage(channel=reply.channel, text=text)
            return
        try:
            client.chat_postEphemeral(channel=reply.channel, user=reply.user, text=text, thread_ts=reply.thread_ts)
        except SlackApiError as err:
            if error_code(err) not in NOT_HERE:
                raise
            client.chat_postMessage(channel=reply.user, text=text)
    except SlackApiError as err:
        log.warning("team %s: could not answer %s privately: %s", reply.team, reply.user, error_code(err))
