"""The 👍 Vote button beside each candidate (Block Kit interactivity): a click votes for that
candidate, a second click takes the vote back. Same vote store as reactions and the web page; no
Slack API call is spent (the confirmation goes through the action's response_url)."""

from __future__ import annotations

import logging

from bot.slack.deps import deps_of
from bot.slack.messages import escape, parse_vote_value
from store.votes import VoteStore

log = logging.getLogger(__name__)


def vote_button(ack, body: dict, action: dict, respond, context) -> None:
    ack()
    deps = deps_of(context)
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    try:
        index, key = parse_vote_value(action.get("value", ""))
    except ValueError:
        return
    ts = key or container.get("message_ts")
    user = (body.get("user") or {}).get("id")
    store = VoteStore(deps.connection)
    name = store.name_of(channel or "", ts or "", index)
    if name is None or not user:
        text = f"Voting on that message has closed (votes are kept {deps.settings.retention_days} days)."
    elif store.toggle(channel, ts, index, user):
        text = f"You voted for *{escape(name)}*. Click again to take it back."
    else:
        text = f"Your vote for *{escape(name)}* is taken back."
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as err:  # the vote counts even when the confirmation cannot be shown
        log.warning("could not confirm a vote to %s: %s", user, err)
