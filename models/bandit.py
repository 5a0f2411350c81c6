"""Models compete for the team's up-votes: a Beta-Bernoulli bandit chosen by Thompson sampling.

Each arm (a model for a corpus, or a whole corpus) has a Beta(1 + up, 1 + shown - up) posterior of
its up-vote rate, where ``shown`` counts impressions and ``up`` the impressions that got at least
one up-vote. Thompson sampling draws one rate per arm and picks the highest: arms that look good are
used more, and arms with little evidence still get tried, without a fixed A/B split to tune.

The whole policy is here: which models compete (``competing``), when the bandit decides and when the
request or the default does (``choose_model``). The posteriors and the standings every surface shows
are ``core.standings``' (re-exported).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np

from core.model_names import competes
from core.standings import posterior, standings

__all__ = ["choose_model", "competing", "posterior", "standings", "thompson_choice"]


def thompson_choice(counts: Mapping[str, tuple[int, int]], rng: np.random.Generator) -> str:
    """The arm whose sampled up-vote rate is highest; ``counts`` maps arm -> (up, shown)."""
    arms = sorted(counts)
    draws = [rng.beta(*posterior(*counts[arm])) for arm in arms]
    return arms[int(np.argmax(draws))]


def competing(trained: Iterable[str]) -> list[str]:
    """The arms for a corpus: its trained models that are fast enough to sample a pool (not pomegranate)."""
    return [m for m in trained if competes(m)]


ChosenBy = Literal["request", "bandit", "default"]


def choose_model(
    asked: str | None,
    arms: list[str],
    counts: Mapping[str, tuple[int, int]] | None,
    rng: np.random.Generator,
    default: str,
) -> tuple[str, ChosenBy]:
    """(model, why): the one asked for; else Thompson sampling over the arms' up-vote posteriors;
    the default when there is nothing to choose between or no vote counts to go on (``counts`` None)."""
    if asked:
        return asked.lower(), "request"
    if counts is None or len(arms) < 2:
        return default, "default"
    return thompson_choice({m: counts.get(m, (0, 0)) for m in arms}, rng), "bandit"
