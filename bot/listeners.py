"""Slack listeners: ack, hand the work on, return. The logic lives in plain functions below them."""

from __future__ import annotations

import logging

from redis import Redis
from slack_bolt import App

from bot.grammar import Help, ListThings, parse_command, usage
from bot.rate_limit import check_rate
from bot.votes import VoteStore
from corpora import corpus_names
from jobs.queueing import enqueue_slack
from models.bandit import standings
from models.catalog import default_models
from tnaas.errors import TNaaSError
from tnaas.settings import Settings

log = logging.getLogger(__name__)


def handle_text(text: str, team: str, reply: dict, connection: Redis, settings: Settings) -> str | None:
    """Parse and enqueue; the returned text (help, a list, an error) goes back to the user privately."""
    try:
        command = parse_command(text, settings)
        if isinstance(command, Help):
            return usage(settings)
        if isinstance(command, ListThings):
            return list_things(command.what, connection)
        check_rate(connection, team, reply["user"], settings.user_rate, settings.team_rate)
        enqueue_slack(connection, command, reply, settings)
        return None
    except TNaaSError as err:
        return str(err)


def list_things(what: str, connection: Redis) -> str:
    store = VoteStore(connection)
    if what == "corpora":
        return "Corpora: " + ", ".join(corpus_names())
    if what == "models":
        return "Models: " + ", ".join(default_models()) + "\n" + standings_text("Models", store.arm_counts("model"))
    best = store.top()
    names = "Best-voted names: " + (", ".join(f"{n} ({v})" for n, v in best) if best else "no votes yet.")
    return names + "\n" + standings_text("Corpora", store.arm_counts("corpus"))


def standings_text(title: str, counts: dict[str, tuple[int, int]]) -> str:
    """The bandit's standings in one line per arm: up-vote rate of generated names, interval, P(best)."""
    if not counts:
        return f"{title} by up-votes: no generated names shown yet."
    lines = [f"{title} by up-vote rate of generated names (90% interval, chance of being best):"]
    lines += [f"• {s.arm}: {s.mean:.0%} ({s.low:.0%}–{s.high:.0%}, {s.up}/{s.shown} up-voted, best {s.p_best:.0%})"
              for s in standings(counts)]
    return "\n".join(lines)


def register(app: App, connection: Redis, settings: Settings) -> None:
    votes = VoteStore(connection)

    @app.command("/techname")
    def techname(ack, command):
        reply = {"kind": "slash", "channel": command["channel_id"], "user": command["user_id"]}
        message = handle_text(command.get("text", ""), command.get("team_id", ""), reply, connection, settings)
        if message:
            ack(text=message)  # help, lists and errors: ephemeral, straight in the ack
        else:
            ack()

    @app.event("app_mention")
    def mention(body, event, client):
        if not votes.first_time(body["event_id"]):
            return  # a Slack retry of an event we already handled
        thread = event.get("thread_ts") or event["ts"]
        reply = {"kind": "mention", "channel": event["channel"], "user": event["user"], "thread_ts": thread}
        message = handle_text(event.get("text", ""), body.get("team_id", ""), reply, connection, settings)
        if message:
            client.chat_postEphemeral(channel=event["channel"], user=event["user"], text=message, thread_ts=thread)

    def on_reaction(body, event, context, added: bool) -> None:
        item = event.get("item", {})
        if event.get("user") == context.bot_user_id or item.get("type") != "message":
            return
        if votes.first_time(body["event_id"]):
            votes.apply_reaction(item["channel"], item["ts"], event["user"], event["reaction"], added=added)

    @app.event("reaction_added")
    def reaction_added(body, event, context):
        on_reaction(body, event, context, added=True)

    @app.event("reaction_removed")
    def reaction_removed(body, event, context):
        on_reaction(body, event, context, added=False)
