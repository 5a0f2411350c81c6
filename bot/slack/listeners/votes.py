"""The 👍 Vote button beside each candidate (Block Kit interactivity): a click votes for that
candidate, a second click takes the vote back. Same vote store as reactions and the web page; no
Slack API call is spent (the confirmation goes through the action's response_url).

A click names its channel and message itself: it counts only on a candidate message the bot posted
for the clicker's own workspace (``store.replies.ReplyTeams``), never on a web answer or another
workspace's reply."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from bot.slack.deps import budget_of, deps_of
from bot.slack.messages import escape, parse_vote_value
from core.errors import Unavailable
from core.settings import Settings
from store.replies import ReplyTeams
from store.votes import VoteStore

log = logging.getLogger(__name__)
NOT_COUNTED = "I could not count that vote right now: try again in a minute."


def vote_button(ack, body: dict, action: dict, respond, context) -> None:
    ack()
    deps = deps_of(context)
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    try:
        index, key = parse_vote_value(action.get("value") or "")
    except ValueError:
        return
    ts = key or container.get("message_ts") or ""
    user = (body.get("user") or {}).get("id")
    team = context.team_id or ""
    try:
        budget_of(context).after_ack().check()
        text = click(
            VoteStore(deps.connection), ReplyTeams(deps.connection), deps.settings, channel, ts, index, user, team
        )
    except (RedisError, Unavailable) as err:
        log.warning("team %s: a vote click by %s was not counted (%s); they are told to try again", team, user, err)
        text = NOT_COUNTED
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as err:  # the vote counts even when the confirmation cannot be shown
        log.warning("could not confirm a vote to %s: %s", user, err)


def click(
    votes: VoteStore, teams: ReplyTeams, settings: Settings, channel: str, ts: str, index: int, user, team: str
) -> str:
    """Vote (or take the vote back) on candidate ``index`` of the message, if it is this team's; what to tell the clicker."""
    owner = teams.team_of(channel, ts)
    if owner is not None and owner != team:
        log.warning(
            "a vote click from team %r on a message of team %r (%s %s) was not counted", team, owner, channel, ts
        )
    name = votes.name_of(channel, ts, index) if team and owner == team else None
    if name is None or not user:
        return f"Voting on that message has closed (votes are kept {settings.retention_days} days)."
    if votes.toggle(channel, ts, index, user):
        return f"You voted for *{escape(name)}*. Click again to take it back."
    return f"Your vote for *{escape(name)}* is taken back."
