"""A direct message to the bot is a command, answered in the conversation like a mention (and, like a
mention, told to try again when it cannot be queued)."""

from __future__ import annotations

from bot.slack.commands import handle_event_text
from bot.slack.deps import budget_of, deps_of, say_privately
from jobs.contracts import ReplyTo


def direct_message(body: dict, event: dict, client, context) -> None:
    """Only a person's own new messages in the bot's DM (Bolt already drops the bot's own)."""
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id") or not event.get("user"):
        return
    deps = deps_of(context)
    team = context.team_id or body.get("team_id")
    reply = ReplyTo(
        kind="dm", channel=event["channel"], user=event["user"], team=team, enterprise=context.enterprise_id
    )
    budget = budget_of(context).after_ack()
    message = handle_event_text(body["event_id"], event.get("text", ""), team or "", reply, deps, budget)
    if message:
        say_privately(client, reply, message)
