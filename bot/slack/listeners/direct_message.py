"""A direct message to the bot is a command, answered in the conversation like a mention."""

from __future__ import annotations

from bot.slack.commands import handle_text
from bot.slack.deps import deps_of, say_privately
from jobs.contracts import ReplyTo
from store.events import SeenEvents


def direct_message(body: dict, event: dict, client, context) -> None:
    """Only a person's own new messages in the bot's DM (Bolt already drops the bot's own)."""
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id") or not event.get("user"):
        return
    deps = deps_of(context)
    if not SeenEvents(deps.connection).first_time(body["event_id"]):
        return
    team = context.team_id or body.get("team_id")
    reply = ReplyTo(
        kind="dm", channel=event["channel"], user=event["user"], team=team, enterprise=context.enterprise_id
    )
    message = handle_text(event.get("text", ""), team or "", reply, deps)
    if message:
        say_privately(client, reply, message)
