"""What a `/techname`, mention or direct-message text does: help and lists are answered at once,
privately; every other command is parsed, counted against the rate limits and queued for a worker.
What goes back to Slack is escaped for mrkdwn here, once.

A command is acknowledged as queued only once it is: when Redis fails or is too slow for the ack's
budget (``AckBudget``), nothing is queued and the user is told to try again, in the same words
whatever went wrong."""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

from bot.slack.deps import AckBudget, SlackDeps
from bot.slack.grammar import Command, Help, ListThings, parse_command, usage
from bot.slack.messages import escape, shortlist_text, standings_text, top_text
from core.errors import TNaaSError, Unavailable
from core.model_names import default_models
from corpora import corpus_names
from jobs.contracts import ReplyTo
from store.arms import ArmCounts
from store.events import SeenEvents
from store.rate_limit import RateLimits
from store.shortlists import Shortlists
from store.votes import VoteStore

log = logging.getLogger(__name__)


def handle_text(text: str, team: str, reply: ReplyTo, deps: SlackDeps, budget: AckBudget) -> str | None:
    """Parse and enqueue within ``budget``; the returned mrkdwn (help, a list, an error, "try again")
    goes back to the user privately. None: the command is queued."""
    try:
        command = parse_command(text, deps.settings)
    except TNaaSError as err:
        return escape(str(err))
    return handle_command(command, team, reply, deps, budget)


def handle_command(command: Command, team: str, reply: ReplyTo, deps: SlackDeps, budget: AckBudget) -> str | None:
    """``handle_text`` for a command already typed (a click on a candidate asks for one)."""
    connection, settings = deps.connection, deps.settings
    try:
        if isinstance(command, Help):
            return escape(usage(settings))
        budget.check()
        if isinstance(command, ListThings):
            return list_things(command.what, connection, team)
        RateLimits(connection).check(team, reply.user, settings.user_rate, settings.team_rate)
        budget.check()
        deps.batcher.submit(command, reply, wait=budget.left())
        return None
    except (RedisError, Unavailable) as err:
        return not_queued(reply, err)
    except TNaaSError as err:
        return escape(str(err))


def handle_event_text(
    event_id: str, text: str, team: str, reply: ReplyTo, deps: SlackDeps, budget: AckBudget
) -> str | None:
    """``handle_text`` for an event (a mention, a direct message), once per event id: Slack retries
    an event it thinks we missed."""
    try:
        budget.check()
        if not SeenEvents(deps.connection).first_time(event_id):
            return None
    except (RedisError, Unavailable) as err:
        return not_queued(reply, err)
    return handle_text(text, team, reply, deps, budget)


def not_queued(reply: ReplyTo, err: Exception) -> str:
    """What the user hears when their command could not be queued (logged for the operator)."""
    why = f"Redis: {err}" if isinstance(err, RedisError) else "Redis failed this request already, or its ack is due"
    log.warning(
        "team %s: a command from %s was not queued (%s); they are told to try again", reply.team, reply.user, why
    )
    return escape(str(Unavailable()))


def list_things(what: str, connection: Redis, team: str | None = None) -> str:
    """Corpora, models with their standings, the team's shortlist, or the best-voted names (of ``team``, if given)."""
    if what == "shortlist":
        return shortlist_text(Shortlists(connection).entries(team or "-"))
    arms = ArmCounts(connection)
    if what == "corpora":
        return "Corpora: " + ", ".join(corpus_names())
    if what == "models":
        return "Models: " + ", ".join(default_models()) + "\n" + standings_text("Models", arms.counts("model"))
    return top_text(VoteStore(connection).top(team=team)) + "\n" + standings_text("Corpora", arms.counts("corpus"))
