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
from bot.slack.grammar import Command, CorpusAction, Help, ListThings, parse_command, usage
from bot.slack.messages import code, corpus_status, escape, shortlist_text, standings_text, top_text
from core.errors import TNaaSError, Unavailable
from core.model_names import default_models
from corpora import corpus_names
from jobs.contracts import DetectRequest, ReplyTo
from store.arms import ArmCounts
from store.events import SeenEvents
from store.rate_limit import RateLimits
from store.shortlists import Shortlists
from store.team_corpora import OPERATOR, TeamCorpora, corpus_id, team_owner
from store.votes import VoteStore

log = logging.getLogger(__name__)


def handle_text(text: str, team: str, reply: ReplyTo, deps: SlackDeps, budget: AckBudget) -> str | None:
    """Parse and enqueue within ``budget``; the returned mrkdwn (help, a list, an error, "try again")
    goes back to the user privately. None: the command is queued."""
    try:
        command = parse_for_team(text, team, deps)
    except RedisError as err:
        return not_queued(reply, err)
    except TNaaSError as err:
        return escape(str(err))
    return handle_command(command, team, reply, deps, budget)


def parse_for_team(text: str, team: str, deps: SlackDeps) -> Command:
    """``parse_command``, and when it fails (an unknown corpus, a typo), again with the team's own
    corpora (its own and the operator's): a request of a built-in corpus costs no Redis read; another
    team's corpus stays unknown."""
    try:
        command = parse_command(text, deps.settings)
    except TNaaSError:
        visible = TeamCorpora(deps.connection).visible(team_owner(team))
        if not visible:
            raise
        return parse_command(text, deps.settings, {slug: by for slug, (by, _) in visible.items()})
    if isinstance(command, DetectRequest):  # `is NAME` says which of the team's corpora list it too
        visible = TeamCorpora(deps.connection).visible(team_owner(team))
        return command.model_copy(update={"team_corpora": {slug: by for slug, (by, _) in visible.items()}})
    return command


def handle_command(command: Command, team: str, reply: ReplyTo, deps: SlackDeps, budget: AckBudget) -> str | None:
    """``handle_text`` for a command already typed (a click on a candidate asks for one)."""
    connection, settings = deps.connection, deps.settings
    try:
        if isinstance(command, Help):
            return escape(usage(settings))
        budget.check()
        if isinstance(command, ListThings):
            return list_things(command.what, connection, team)
        if isinstance(command, CorpusAction):
            return corpus_action(command, connection, team)
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
        return "Corpora: " + ", ".join(corpus_names()) + added_corpora_text(connection, team)
    if what == "models":
        return "Models: " + ", ".join(default_models()) + "\n" + standings_text("Models", arms.counts("model"))
    return top_text(VoteStore(connection).top(team=team)) + "\n" + standings_text("Corpora", arms.counts("corpus"))


def added_corpora_text(connection: Redis, team: str | None) -> str:
    """The corpora added to the built-in ones that ``team`` may use (``TeamCorpora.visible``, as the API
    lists them): its own, then the operator's; "" when there are none."""
    visible = TeamCorpora(connection).visible(team_owner(team)) if team else {}
    own = [code(slug) for slug, (by, _) in visible.items() if by != OPERATOR]
    shared = [code(slug) for slug, (by, _) in visible.items() if by == OPERATOR]
    lines = [
        f"\nYour team's own: {', '.join(own)}" if own else "",
        f"\nAdded for everyone: {', '.join(shared)}" if shared else "",
    ]
    return "".join(lines)


def corpus_action(command: CorpusAction, connection: Redis, team: str) -> str:
    """`corpus list` and `corpus rm NAME` of the team's own corpora (`corpus add` is the form)."""
    owner, store = team_owner(team), TeamCorpora(connection)
    if command.action == "add":
        return "Type `/techname corpus add` to open the form that adds a corpus."
    if command.action == "list":
        states = store.states(owner)
        if not states:
            return "Your team has no corpora of its own yet: `/techname corpus add` adds one."
        return "Your team's corpora:\n" + "\n".join(
            f"• {code(slug)}: {corpus_status(state)}" for slug, state in states.items()
        )
    slug = (command.name or "").strip().lower()
    if not store.delete(owner, slug):
        return f"Your team has no corpus called {code(command.name or '')}: `/techname corpus list` lists them."
    impressions = VoteStore(connection).forget_corpus(corpus_id(owner, slug))
    return f"Removed {code(slug)}, its trained model and the {impressions} names shown from it."
