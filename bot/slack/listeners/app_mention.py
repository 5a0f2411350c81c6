"""`@tnaas ...`: the same grammar as the slash command, answered in the mention's thread."""

from __future__ import annotations

from bot.slack.commands import handle_text
from bot.slack.deps import deps_of, say_privately
from jobs.contracts import ReplyTo
from store.events import SeenEvents


def app_mention(body: dict, event: dict, client, context) -> None:
    deps = deps_of(context)
    if not SeenEvents(deps.connection).first_time(body["event_id"]):
        return  # a Slack retry of an event we already handled
    thread = event.get("thread_ts") or event["ts"]
    team = context.team_id or body.get("team_id")
    reply = ReplyTo(
        kind="mention",
        channel=event["channel"],
        user=event["user"],
        thread_ts=thread,
        team=team,
        enterprise=context.enterprise_id,
    )
    message = handle_text(event.get("text", ""), team or "", reply, deps)
    if message:
        say_privately(client, reply, message)
