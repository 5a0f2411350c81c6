"""Reactions on the bot's candidate messages are votes (see ``store.votes.vote_for_reaction``); a team
whose people vote with keycaps (enough of them) has learned the convention, and its replies stop being seeded."""

from __future__ import annotations

from bot.metrics import count_vote
from bot.slack.deps import deps_of
from store.events import SeenEvents
from store.slack_teams import TeamHabits
from store.votes import KEYCAPS, VoteStore


def on_reaction(body: dict, event: dict, context, added: bool) -> None:
    """A person's reaction on one of our messages, once per event id; the bot's own seeds are not votes."""
    item = event.get("item", {})
    if event.get("user") == context.bot_user_id or item.get("type") != "message":
        return
    deps = deps_of(context)
    if SeenEvents(deps.connection).first_time(body["event_id"]):
        vote = VoteStore(deps.connection).apply_reaction(
            item["channel"], item["ts"], event["user"], event["reaction"], added=added
        )
        if vote is not None and added:
            count_vote("slack", vote.direction)
            if event["reaction"].split("::")[0] in KEYCAPS:
                TeamHabits(deps.connection).keycap_vote(context.team_id or body.get("team_id") or "-", event["user"])


def reaction_added(body: dict, event: dict, context) -> None:
    on_reaction(body, event, context, added=True)


def reaction_removed(body: dict, event: dict, context) -> None:
    on_reaction(body, event, context, added=False)
