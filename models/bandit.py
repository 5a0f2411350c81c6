"""Models compete for the team's up-votes: a Beta-Bernoulli bandit chosen by Thompson sampling.

Each arm (a model for a corpus, or a whole corpus) has a Beta(1 + up, 1 + shown - up) posterior of
its up-vote rate, where ``shown`` counts impressions and ``up`` the impressions that got at least
one up-vote. Thompson sampling draws one rate per arm and picks the highest: arms that look good are
used more, and arms with little evidence still get tried, without a fixed A/B split to tune.

The whole policy is here: which models compete (``competing``), when the bandit decides and when the
request or the default does (``choose_model``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy.stats import beta

from models.catalog import competes

PRIOR = (1.0, 1.0)  # uniform: no opinion before the first vote


class Standing(BaseModel):
    arm: str
    shown: int
    up: int
    mean: float  # posterior mean up-vote rate
    low: float  # 90% credible interval
    high: float
    p_best: float  # posterior probability that this arm has the highest rate


def posterior(up: int, shown: int) -> tuple[float, float]:
    a, b = PRIOR
    up = max(0, min(up, shown))
    return a + up, b + shown - up


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


def standings(counts: Mapping[str, tuple[int, int]], draws: int = 4000, seed: int = 0) -> list[Standing]:
    """Every arm's posterior, best mean first, with its chance of being the best arm."""
    arms = sorted(counts)
    if not arms:
        return []
    params = [posterior(*counts[a]) for a in arms]
    rng = np.random.default_rng(seed)
    samples = np.stack([rng.beta(a, b, size=draws) for a, b in params])
    p_best = np.bincount(samples.argmax(axis=0), minlength=len(arms)) / draws
    out = [
        Standing(
            arm=arm,
            up=min(counts[arm][0], counts[arm][1]),
            shown=counts[arm][1],
            mean=a / (a + b),
            low=float(beta.ppf(0.05, a, b)),
            high=float(beta.ppf(0.95, a, b)),
            p_best=float(p),
        )
        for arm, (a, b), p in zip(arms, params, p_best)
    ]
    return sorted(out, key=lambda s: (-s.mean, s.arm))
