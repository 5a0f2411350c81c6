"""`/techname ...`: help, lists and errors come back privately in the ack; the rest is queued."""

from __future__ import annotations

from bot.commands import handle_text
from bot.listeners.deps import deps_of
from jobs.contracts import ReplyTo


def techname(ack, command: dict, context) -> None:
    deps = deps_of(context)
    reply = ReplyTo(kind="slash", channel=command["channel_id"], user=command["user_id"])
    message = handle_text(command.get("text", ""), command.get("team_id", ""), reply, deps.connection, deps.settings)
    if message:
        ack(text=message)  # help, lists and errors: ephemeral, straight in the ack
    else:
        ack()
