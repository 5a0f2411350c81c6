"""Models compete for the team's up-votes: a Beta-Bernoulli bandit chosen by Thompson sampling.

Until a corpus has votes, its requests are answered by the default (the model the believability
benchmark chose): that is what the benchmark says is best, and a team that rarely votes should keep
getting it. Once votes come, each arm (a model for the corpus) has a Beta posterior of its up-vote rate
among judged names (names shown in a message someone voted on: ``store.arms``), starting from
pseudo-counts that encode the benchmark's ranking, and Thompson sampling draws one rate per arm and
picks the highest: arms that look good are used more, and arms with little evidence still get tried.
Names nobody voted on count for nothing, so impressions alone never spread the choice.

The whole policy is here: which models compete (``competing``), what each arm believes before votes
(``prior``), when the bandit decides and when the request or the default does (``choose_model``). The
standings every surface shows are ``core.standings``' (re-exported).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np

from core.model_names import TRAINED_BY_DEFAULT, competes
from core.standings import posterior, standings

__all__ = ["choose_model", "competing", "posterior", "prior", "standings", "thompson_choice"]

# Before any vote each arm counts as if PRIOR_JUDGED of its names had been judged: the default with
# PRIOR_UP of them up-voted, the arm ranked r after it with PRIOR_UP / (1 + r / 2). Strong enough that a
# team's first few votes do not throw the benchmark's choice away, weak enough that a few dozen judged
# names do decide (a default never up-voted in 40 judged names gives way to the next arm).
PRIOR_JUDGED = 20.0
PRIOR_UP = 4.0


def prior(arms: Iterable[str], default: str) -> dict[str, tuple[float, float]]:
    """Beta pseudo-counts (up, not up) per arm, in the benchmark's ranking: its choice for the corpus
    first, then the catalog's order (``TRAINED_BY_DEFAULT``: kn5, kn3, markov3, markov2)."""
    order = {m: i for i, m in enumerate(TRAINED_BY_DEFAULT)}
    ranked = sorted(arms, key=lambda m: (m != default, order.get(m, len(order)), m))
    return {m: (up, PRIOR_JUDGED - up) for r, m in enumerate(ranked) for up in [PRIOR_UP / (1 + r / 2)]}


def thompson_choice(
    counts: Mapping[str, tuple[int, int]],
    rng: np.random.Generator,
    pseudo: Mapping[str, tuple[float, float]] | None = None,
) -> str:
    """The arm whose sampled up-vote rate is highest; ``counts`` maps arm -> (up, judged), ``pseudo`` arm ->
    prior (up, not up) pseudo-counts (default: uniform)."""
    arms = sorted(counts)
    draws = []
    for arm in arms:
        up, judged = counts[arm]
        a, b = posterior(up, judged)
        if pseudo is not None:
            a, b = a - 1 + pseudo[arm][0], b - 1 + pseudo[arm][1]
        draws.append(rng.beta(a, b))
    return arms[int(np.argmax(draws))]


def competing(trained: Iterable[str]) -> list[str]:
    """The arms for a corpus: its trained models that are fast enough to sample a pool (not pomegranate)."""
    return [m for m in trained if competes(m)]


ChosenBy = Literal["request", "bandit", "default"]


def choose_model(
    asked: str | None,
    arms: list[str],
    evidence: Mapping[str, tuple[int, int]] | None,
    rng: np.random.Generator,
    default: str,
) -> tuple[str, ChosenBy]:
    """(model, why): the one asked for; else, once the corpus has votes (``evidence``: arm -> (up, judged)),
    Thompson sampling over the arms' posteriors from the benchmark's prior ("bandit"); else the default
    ("default": no votes, nothing to choose between, or no stack to ask, ``evidence`` None)."""
    if asked:
        return asked.lower(), "request"
    if not evidence or len(arms) < 2 or not any(evidence.get(m, (0, 0))[1] for m in arms):
        return default, "default"
    pseudo = prior(arms, default)
    return thompson_choice({m: evidence.get(m, (0, 0)) for m in arms}, rng, pseudo), "bandit"
