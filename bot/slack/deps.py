"""What the listeners and the commands they run need, put into every request's context by
``bot.slack.app`` (and by ``bot.slack.endpoint``: the request's ack budget), and the one way they talk
back themselves (help and errors for mentions and direct messages)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace

from redis import Redis
from slack_sdk.errors import SlackApiError

from bot.slack.batching import SlackBatcher
from bot.slack.web_api import NOT_HERE, error_code
from core.errors import Unavailable
from core.limits import SLACK_ACK_BUDGET, SLACK_REDIS_TIMEOUT
from core.settings import Settings
from jobs.contracts import ReplyTo

log = logging.getLogger(__name__)
KEY = "tnaas"  # context[KEY] is the SlackDeps
ACK = "tnaas_ack"  # context[ACK] is the request's AckBudget


@dataclass(frozen=True)
class SlackDeps:
    connection: Redis
    settings: Settings
    batcher: SlackBatcher = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "batcher", SlackBatcher(self.connection, self.settings))


def deps_of(context) -> SlackDeps:
    return context[KEY]


@dataclass(frozen=True)
class AckBudget:
    """Slack waits 3 s for an ack, then shows its own failure: what is left of a request's
    SLACK_ACK_BUDGET, and whether Redis already failed it (then nothing more is tried and its user is
    told at once, rather than each later step waiting out its own timeout)."""

    until: float = math.inf
    redis_down: bool = False

    @classmethod
    def starting_now(cls, redis_down: bool = False) -> AckBudget:
        return cls(time.monotonic() + SLACK_ACK_BUDGET, redis_down)

    def after_ack(self) -> AckBudget:
        """For a listener Bolt runs once the request is acknowledged (events): no deadline, the same Redis."""
        return replace(self, until=math.inf)

    def left(self) -> float:
        return self.until - time.monotonic()

    def check(self) -> None:
        """Unavailable when Redis already failed this request or one more call might not fit in the budget."""
        if self.redis_down or self.left() < SLACK_REDIS_TIMEOUT:
            raise Unavailable()


def budget_of(context) -> AckBudget:
    """The endpoint's budget for this request; a fresh one for a request from elsewhere (Socket Mode)."""
    return context.get(ACK) or AckBudget.starting_now()


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
