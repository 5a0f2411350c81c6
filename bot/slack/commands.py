"""What a `/techname`, mention or direct-message text does: help and lists are answered at once,
privately; every other command is parsed, counted against the rate limits and queued for a worker.
What goes back to Slack is escaped for mrkdwn here, once."""

from __future__ import annotations

from redis import Redis

from bot.slack.deps import SlackDeps
from bot.slack.grammar import Help, ListThings, parse_command, usage
from bot.slack.messages import escape, standings_text, top_text
from core.errors import TNaaSError
from core.model_names import default_models
from corpora import corpus_names
from jobs.contracts import ReplyTo
from store.arms import ArmCounts
from store.rate_limit import RateLimits
from store.votes import VoteStore


def handle_text(text: str, team: str, reply: ReplyTo, deps: SlackDeps) -> str | None:
    """Parse and enqueue; the returned mrkdwn (help, a list, an error) goes back to the user privately."""
    connection, settings = deps.connection, deps.settings
    try:
        command = parse_command(text, settings)
        if isinstance(command, Help):
            return escape(usage(settings))
        if isinstance(command, ListThings):
            return list_things(command.what, connection, team)
        RateLimits(connection).check(team, reply.user, settings.user_rate, settings.team_rate)
        deps.batcher.submit(command, reply)
        return None
    except TNaaSError as err:
        return escape(str(err))


def list_things(what: str, connection: Redis, team: str | None = None) -> str:
    """Corpora, models with their standings, or the best-voted names (of ``team``, if given)."""
    arms = ArmCounts(connection)
    if what == "corpora":
        return "Corpora: " + ", ".join(corpus_names())
    if what == "models":
        return "Models: " + ", ".join(default_models()) + "\n" + standings_text("Models", arms.counts("model"))
    return top_text(VoteStore(connection).top(team=team)) + "\n" + standings_text("Corpora", arms.counts("corpus"))
