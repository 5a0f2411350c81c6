"""How the models and corpora stand in the team's votes: each arm's Beta posterior of its up-vote rate.

An arm (a model for a corpus, or a corpus) has a Beta(1 + up, 1 + shown - up) posterior, where
``shown`` counts impressions and ``up`` those with at least one up-vote. Every surface shows the
standings (the API's /models, Slack's `models` and App Home, the command line). The bandit
(``models.bandit``) samples posteriors of the same form over judged names only (shown in a message
someone voted on), from the benchmark's ranking instead of a uniform prior. The web process shows them and starts without
scipy, so the 90% interval's quantiles are computed here, to double precision: the regularized
incomplete beta by its continued fraction, inverted by Newton steps kept inside a bisection bracket.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

PRIOR = (1.0, 1.0)  # uniform: no opinion before the first vote
INTERVAL = (0.05, 0.95)


@dataclass(frozen=True)
class Standing:
    """How one arm (a model, or a corpus) stands in the team's votes."""

    arm: Annotated[str, Field(description="the model (or corpus)", examples=["kn3"])]
    shown: Annotated[int, Field(description="generated names of this arm shown", examples=[120])]
    up: Annotated[int, Field(description="of those, names with at least one up-vote", examples=[18])]
    mean: Annotated[float, Field(description="posterior mean up-vote rate", examples=[0.156])]
    low: Annotated[float, Field(description="the 90% credible interval's lower end", examples=[0.107])]
    high: Annotated[float, Field(description="the 90% credible interval's upper end", examples=[0.212])]
    p_best: Annotated[
        float, Field(description="posterior probability that this arm has the highest up-vote rate", examples=[0.81])
    ]


def posterior(up: int, shown: int) -> tuple[float, float]:
    a, b = PRIOR
    up = max(0, min(up, shown))
    return a + up, b + shown - up


def standings(counts: Mapping[str, tuple[int, int]], draws: int = 4000, seed: int = 0) -> list[Standing]:
    """Every arm's posterior, best mean first, with its chance of being the best arm; ``counts``
    maps arm -> (up, shown)."""
    import numpy as np  # here, not at the top: the web process starts without numpy and asks for standings rarely

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
            low=beta_quantile(INTERVAL[0], a, b),
            high=beta_quantile(INTERVAL[1], a, b),
            p_best=float(p),
        )
        for arm, (a, b), p in zip(arms, params, p_best)
    ]
    return sorted(out, key=lambda s: (-s.mean, s.arm))


def beta_quantile(q: float, a: float, b: float) -> float:
    """x with P(X <= x) = q for X ~ Beta(a, b) (scipy's ``beta.ppf``)."""
    lo, hi = 0.0, 1.0
    x = a / (a + b)
    for _ in range(200):
        error = beta_cdf(x, a, b) - q
        if error > 0:
            hi = x
        else:
            lo = x
        density = beta_pdf(x, a, b)
        guess = x - error / density if density > 0 else lo
        if not lo < guess < hi:  # Newton left the bracket (or the density underflowed): bisect instead
            guess = (lo + hi) / 2
        if abs(guess - x) <= 1e-15 * x or hi - lo <= 1e-15 * hi:
            return guess
        x = guess
    return x


def beta_pdf(x: float, a: float, b: float) -> float:
    return math.exp(_log_front(x, a, b) - math.log(x) - math.log1p(-x))


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta I_x(a, b), from whichever tail its continued fraction converges in."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(_log_front(x, a, b))
    if x < (a + 1) / (a + b + 2):
        return front * _continued_fraction(x, a, b) / a
    return 1 - front * _continued_fraction(1 - x, b, a) / b


def _log_front(x: float, a: float, b: float) -> float:
    """log of x^a (1-x)^b / B(a, b)."""
    return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)


def _continued_fraction(x: float, a: float, b: float) -> float:
    """The incomplete beta's continued fraction by the modified Lentz method (Numerical Recipes' betacf)."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000 + int(10 * math.sqrt(max(a, b)))):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return h
