"""The 👍 Vote button beside each candidate (Block Kit interactivity): a click votes for that
candidate, a second click takes the vote back. Same vote store as reactions and the web page; no
Slack API call is spent (the confirmation goes through the action's response_url). What a click may
act on is ``bot.slack.clicks``'s to say: only a candidate message of the clicker's own workspace."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from bot.slack import clicks
from bot.slack.deps import budget_of, deps_of
from bot.slack.messages import parse_vote_value
from core.errors import Unavailable

log = logging.getLogger(__name__)
NOT_COUNTED = "I could not count that vote right now: try again in a minute."


def vote_button(ack, body: dict, action: dict, respond, context) -> None:
    ack()
    try:
        index, key = parse_vote_value(action.get("value") or "")
    except ValueError:
        return
    click = clicks.Click.of(body, context, key)
    try:
        budget_of(context).after_ack().check()
        text = clicks.vote(click, index, deps_of(context))
    except (RedisError, Unavailable) as err:
        log.warning(
            "team %s: a vote click by %s was not counted (%s); they are told to try again", click.team, click.user, err
        )
        text = NOT_COUNTED
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as err:  # the vote counts even when the confirmation cannot be shown
        log.warning("could not confirm a vote to %s: %s", click.user, err)
