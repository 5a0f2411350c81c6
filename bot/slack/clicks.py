"""What a click on a candidate does: its Vote and Shortlist buttons and its overflow menu (more like
this, check availability, down-vote; in a big reply, Vote and Shortlist too).

A click names its channel and message itself: it acts only on a candidate message the bot posted for
the clicker's own workspace (``store.replies.ReplyTeams``), never on a web answer or another
workspace's reply. Votes and the shortlist change at once, one Redis call each, and say so privately;
"more like this" and "check availability" are queued as the typed commands `like NAME CORPUS` and
`check NAME` would be (rate limits included), answered in the message's thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.slack.commands import handle_command
from bot.slack.deps import AckBudget, SlackDeps
from bot.slack.messages import escape
from jobs.contracts import CheckRequest, LikeRequest, ReplyTo
from store.replies import ReplyTeams
from store.shortlists import Shortlists
from store.votes import VoteStore

log = logging.getLogger(__name__)
UNKNOWN_CHOICE = "I don't know that choice: it may be from an older version of me. Ask again for fresh names."


@dataclass(frozen=True)
class Click:
    channel: str
    ts: str  # the message's key in the vote store: its ts, or the key the bot gave it
    thread_ts: str  # where an answer to the click goes: the message's thread
    user: str
    team: str
    enterprise: str | None = None

    @classmethod
    def of(cls, body: dict, context, key: str | None = None) -> Click:
        container, message = body.get("container") or {}, body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
        message_ts = container.get("message_ts") or message.get("ts") or ""
        return cls(
            channel=channel,
            ts=key or message_ts,
            thread_ts=message.get("thread_ts") or message_ts,
            user=(body.get("user") or {}).get("id") or "",
            team=context.team_id or "",
            enterprise=context.enterprise_id,
        )


def candidate(click: Click, index: int, deps: SlackDeps) -> tuple[str, str] | None:
    """(name, corpus) of the clicked candidate, if the message is this workspace's and still kept."""
    owner = ReplyTeams(deps.connection).team_of(click.channel, click.ts)
    if owner is not None and owner != click.team:
        log.warning(
            "a click from team %r on a message of team %r (%s %s) did nothing",
            click.team,
            owner,
            click.channel,
            click.ts,
        )
    if not click.team or owner != click.team or not click.user:
        return None
    return VoteStore(deps.connection).candidate(click.channel, click.ts, index)


def closed(deps: SlackDeps) -> str:
    return f"Voting on that message has closed (votes are kept {deps.settings.retention_days} days)."


def vote(click: Click, index: int, deps: SlackDeps, direction: int = 1) -> str:
    """Vote (or take the vote back) on the candidate; what to tell the clicker."""
    found = candidate(click, index, deps)
    if found is None:
        return closed(deps)
    name = escape(found[0])
    if VoteStore(deps.connection).toggle(click.channel, click.ts, index, click.user, direction):
        what = "voted for" if direction > 0 else "voted down"
        return f"You {what} *{name}*. Click again to take it back."
    return f"Your {'vote for' if direction > 0 else 'down-vote of'} *{name}* is taken back."


def shortlist(click: Click, index: int, deps: SlackDeps) -> str:
    found = candidate(click, index, deps)
    if found is None:
        return closed(deps)
    name, corpus = found
    done = Shortlists(deps.connection).add(click.team, name, corpus, click.user)
    if done == "full":
        return "Your team's shortlist is full: remove a name from it in my Home tab first."
    if done == "already":
        return f"*{escape(name)}* is already on your team's shortlist (see my Home tab or `/techname shortlist`)."
    return f"*{escape(name)}* is on your team's shortlist now (see my Home tab or `/techname shortlist`)."


def ask_more(click: Click, what: str, index: int, deps: SlackDeps, budget: AckBudget) -> str:
    """Queue "more like this" or "check availability" for the candidate, answered in its thread."""
    found = candidate(click, index, deps)
    if found is None:
        return closed(deps)
    name, corpus = found
    if what == "like":
        request = LikeRequest(name=name, corpus=corpus, n=deps.settings.default_n)
    else:
        request = CheckRequest(names=[name])
    reply = ReplyTo(
        kind="mention",
        channel=click.channel,
        user=click.user,
        thread_ts=click.thread_ts,
        team=click.team,
        enterprise=click.enterprise,
    )
    problem = handle_command(request, click.team, reply, deps, budget)
    if problem:
        return problem
    doing = "names like" if what == "like" else "whether this is free:"
    return f"On it: {doing} *{escape(name)}*, in the thread."
