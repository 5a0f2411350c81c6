"""`@tnaas ...`: the same grammar as the slash command, answered in the mention's thread."""

from __future__ import annotations

from bot.commands import handle_text
from bot.listeners.deps import deps_of
from jobs.contracts import ReplyTo
from store.events import SeenEvents


def app_mention(body: dict, event: dict, client, context) -> None:
    deps = deps_of(context)
    if not SeenEvents(deps.connection).first_time(body["event_id"]):
        return  # a Slack retry of an event we already handled
    thread = event.get("thread_ts") or event["ts"]
    reply = ReplyTo(kind="mention", channel=event["channel"], user=event["user"], thread_ts=thread)
    message = handle_text(event.get("text", ""), body.get("team_id", ""), reply, deps.connection, deps.settings)
    if message:
        client.chat_postEphemeral(channel=event["channel"], user=event["user"], text=message, thread_ts=thread)
