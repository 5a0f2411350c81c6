"""`/techname ...` (alone: the "Name something" modal): help, lists, errors and "try again" come back privately in the ack; the rest is
queued before the ack, with the command's response_url so that the answer arrives even where the bot
is not a member."""

from __future__ import annotations

from bot.slack.commands import handle_text
from bot.slack.deps import budget_of, deps_of
from bot.slack.listeners.corpus import open_corpus_modal
from bot.slack.listeners.modal import open_name_modal
from jobs.contracts import ReplyTo


def techname(ack, command: dict, context, client=None) -> None:
    deps = deps_of(context)
    if (
        client is not None
        and not (command.get("text") or "").strip()
        and open_name_modal(
            client, command.get("trigger_id") or "", command.get("channel_id"), deps, context.team_id or ""
        )
    ):
        return ack()  # `/techname` alone: the form (help when it cannot open)
    if client is not None and (command.get("text") or "").lower().split() == ["corpus", "add"]:
        if open_corpus_modal(client, command.get("trigger_id") or ""):
            return ack()
        return ack(text="I could not open the form: type `/techname corpus add` again.")
    reply = ReplyTo(
        kind="slash",
        channel=command["channel_id"],
        user=command["user_id"],
        team=context.team_id or command.get("team_id"),
        enterprise=context.enterprise_id,
        response_url=command.get("response_url") or None,
    )
    message = handle_text(command.get("text", ""), reply.team or "", reply, deps, budget_of(context))
    if message:
        ack(text=message)  # help, lists, errors, "try again": ephemeral, straight in the ack
    else:
        ack()
