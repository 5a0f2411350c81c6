"""What a `/techname` or mention text does: help and lists are answered at once, privately; every
other command is parsed, counted against the rate limits and queued for a worker."""

from __future__ import annotations

from redis import Redis

from bot.grammar import Help, ListThings, parse_command, usage
from corpora import corpus_names
from jobs.contracts import ReplyTo
from jobs.queueing import enqueue_slack
from models.bandit import standings
from models.catalog import default_models
from store.arms import ArmCounts
from store.rate_limit import RateLimits
from store.votes import VoteStore
from tnaas.errors import TNaaSError
from tnaas.settings import Settings


def handle_text(text: str, team: str, reply: ReplyTo, connection: Redis, settings: Settings) -> str | None:
    """Parse and enqueue; the returned text (help, a list, an error) goes back to the user privately."""
    try:
        command = parse_command(text, settings)
        if isinstance(command, Help):
            return usage(settings)
        if isinstance(command, ListThings):
            return list_things(command.what, connection)
        RateLimits(connection).check(team, reply.user, settings.user_rate, settings.team_rate)
        enqueue_slack(connection, command, reply, settings)
        return None
    except TNaaSError as err:
        return str(err)


def list_things(what: str, connection: Redis) -> str:
    arms = ArmCounts(connection)
    if what == "corpora":
        return "Corpora: " + ", ".join(corpus_names())
    if what == "models":
        return "Models: " + ", ".join(default_models()) + "\n" + standings_text("Models", arms.counts("model"))
    best = VoteStore(connection).top()
    names = "Best-voted names: " + (", ".join(f"{n} ({v})" for n, v in best) if best else "no votes yet.")
    return names + "\n" + standings_text("Corpora", arms.counts("corpus"))


def standings_text(title: str, counts: dict[str, tuple[int, int]]) -> str:
    """The bandit's standings in one line per arm: up-vote rate of generated names, interval, P(best)."""
    if not counts:
        return f"{title} by up-votes: no generated names shown yet."
    lines = [f"{title} by up-vote rate of generated names (90% interval, chance of being best):"]
    lines += [
        f"• {s.arm}: {s.mean:.0%} ({s.low:.0%}–{s.high:.0%}, {s.up}/{s.shown} up-voted, best {s.p_best:.0%})"
        for s in standings(counts)
    ]
    return "\n".join(lines)
