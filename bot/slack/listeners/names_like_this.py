"""The message shortcut "Names like this": names like the message's first word, answered in the
message's thread. The shortcut's payload carries the message, so no history scope is needed; the
request is the typed `like WORD`, rate limits included."""

from __future__ import annotations

import logging

from bot.slack.commands import handle_text
from bot.slack.deps import budget_of, deps_of
from bot.slack.grammar import word_to_start_from
from jobs.contracts import ReplyTo

log = logging.getLogger(__name__)
NO_WORD = "That message has no word I can start from: try `/techname like kafka`."


def names_like_this(ack, shortcut: dict, respond, context) -> None:
    ack()
    message = shortcut.get("message") or {}
    word = word_to_start_from(message.get("text") or "")
    user, team = (shortcut.get("user") or {}).get("id") or "", context.team_id or ""
    channel = (shortcut.get("channel") or {}).get("id") or ""
    ts = message.get("thread_ts") or message.get("ts")
    text = NO_WORD
    if word and user and team and channel and ts:
        reply = ReplyTo(
            kind="mention", channel=channel, user=user, thread_ts=ts, team=team, enterprise=context.enterprise_id
        )
        text = handle_text(f"like {word}", team, reply, deps_of(context), budget_of(context).after_ack())
    if text:
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception as err:
            log.warning("could not answer a message shortcut privately: %s", err)
