"""`@tnaas ...`: the same grammar as the slash command, answered in the mention's thread.

Bolt acknowledges an event before its listener runs, so a mention that cannot be queued (Redis down,
paused or refusing writes) is already acknowledged: its user is told privately to try again, never
left in silence (``bot.slack.endpoint`` says why events are acknowledged rather than left to Slack's
retries)."""

from __future__ import annotations

from bot.slack.commands import handle_event_text
from bot.slack.deps import budget_of, deps_of, say_privately
from jobs.contracts import ReplyTo


def app_mention(body: dict, event: dict, client, context) -> None:
    deps = deps_of(context)
    team = context.team_id or body.get("team_id")
    reply = ReplyTo(
        kind="mention",
        channel=event["channel"],
        user=event["user"],
        thread_ts=event.get("thread_ts") or event["ts"],
        team=team,
        enterprise=context.enterprise_id,
    )
    budget = budget_of(context).after_ack()
    message = handle_event_text(body["event_id"], event.get("text", ""), team or "", reply, deps, budget)
    if message:
        say_privately(client, reply, message)
