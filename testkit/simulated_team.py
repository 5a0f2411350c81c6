"""A simulated team that votes: stands in for real users when measuring the feedback loop.

The voter has a hidden taste: it likes short names (4-7 characters) that are easy to say (letters
only, no run of three consonants or three vowels) and, in ``hidden_taste`` (the "tech" team), that
the judge finds tech-like (npm or PyPI) whatever corpus it asked for; in ``asked_style_taste`` (the
"style" team), that the judge finds in the style of the corpus it asked for: a team asking for
pokemon-style names wants pokemon-like ones. The tech team penalises corpus-likeness for every corpus
but npm/PyPI, so no cold-start ranking for believability can please it there; both are reported.
Each round a request asks for n names from a corpus; the configuration decides which model generates
(uniformly at random, or the Thompson-sampling bandit) and which n of the sampled pool are shown (at
random, by the judge alone, or by a reranker trained on the votes so far). The voter sees every shown
name and up-votes it with its hidden probability. The corpus of each round comes from its own random
stream, so every configuration meets the same corpora in the same rounds (paired by seed).
``believability`` shows n names drawn from the model's reservoir (the cold-start ranking of
models.believability); the reranker starts from the same reservoir and, once trained, reranks a pool
drawn from it. It is trained by the deployment's rule (models.reranker: a first one from three voted
messages, retrained after every voted message while young, as jobs.upkeep does), the scheduler's
minute check taken to run between two requests; ``waits`` configurations keep the rule before
(``WAITING``) to measure side by side. The ``oracle`` knows the hidden taste and shows the pool's n best by it, so the loop's
up-vote rate reads as a fraction of the best possible. The same
functions the workers use do the work (models.ranking, models.bandit, models.reranker); only the
voter and the bookkeeping are here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from models.bandit import thompson_choice
from models.name_model import Candidate
from models.ranking import candidate_rows, choose_shown, pool_scores
from models.registry import ModelRegistry
from models.reranker import Reranker, enough_votes, labels, retrain_every, voted_rows

TECH = ("npm", "pypi")


def short_and_easy(name: str) -> float:
    short = 1.0 if 4 <= len(name) <= 7 else 0.4 if len(name) in (3, 8) else 0.0
    easy = name.isalpha() and not re.search(r"[^aeiouy]{3}|[aeiouy]{3}", name)
    return short * float(easy)


def hidden_taste(row: dict) -> float:
    """The simulated voter's probability of an up-vote (the loop never sees this function)."""
    tech = sum((row.get("judge") or {}).get(c, 0.0) for c in TECH)
    return 0.02 + 0.8 * short_and_easy(row["name"]) * tech


def asked_style_taste(row: dict) -> float:
    """Like ``hidden_taste``, but the style that counts is the corpus the request asked for."""
    style = (row.get("judge") or {}).get(row["corpus"], 0.0)
    return 0.02 + 0.8 * short_and_easy(row["name"]) * style


TASTES = {"tech": hidden_taste, "style": asked_style_taste}


# The rule before the reranker learned from a team's first votes, kept to measure side by side: a
# first reranker only from 60 impressions on voted messages with 10 of each, retrained every 20 rounds.
WAITING = (60, 10, 20)


@dataclass(frozen=True)
class Config:
    name: str
    ordering: str  # "random", "judge", "believability", "reranker" or "oracle"
    bandit: bool
    waits: bool = False  # the reranker waits for WAITING's votes (before) instead of learning from the first


CONFIGS = [
    Config("random order, random model", "random", False),
    Config("judge order, random model", "judge", False),
    Config("believability, random model", "believability", False),
    Config("reranker, random model", "reranker", False),
    Config("reranker waiting for 60 votes (before), random model", "reranker", False, waits=True),
    Config("random order, bandit", "random", True),
    Config("reranker + bandit (production)", "reranker", True),
    Config("reranker waiting for 60 votes (before) + bandit", "reranker", True, waits=True),
    Config("oracle (knows the taste), random model", "oracle", False),
]
ORACLE = CONFIGS[-1].name
PRODUCTION = "reranker + bandit (production)"  # what a deployment does: the bandit picks, the reranker learns


@dataclass
class LoopResult:
    config: Config
    up_rate: list[float]  # per round
    rows: list[dict]
    counts: dict[str, tuple[int, int]]
    reranker_trained_at: int | None


def run_loop(
    registry: ModelRegistry,
    corpora: list[str],
    models: list[str],
    config: Config,
    rounds: int,
    seed: int,
    n: int = 5,
    pool: int = 100,
    explore: float = 0.2,
    taste=hidden_taste,
    mature_every: int = 60,
) -> LoopResult:
    """``mature_every``: the deployment's TNAAS_RETRAIN_NEW_VOTES. The scheduler's check for new votes
    (``jobs.upkeep.learn_from_first_votes``, every minute) is taken to run between two requests."""
    rng = np.random.default_rng(seed)
    asks = np.random.default_rng([seed, 1])  # the corpus of each round: the same for every configuration
    judge = registry.estimator("judge")
    counts = {(c, m): [0, 0] for c in corpora for m in models}  # (up, shown)
    rows_log: list[dict] = []
    reranker, trained_at, trained_on, rates = None, None, 0, []
    for r in range(rounds):
        corpus = corpora[int(asks.integers(len(corpora)))]
        if config.bandit:
            model = thompson_choice({m: tuple(counts[corpus, m]) for m in models}, rng)
        else:
            model = models[int(rng.integers(len(models)))]
        cold = config.ordering == "believability" or (config.ordering == "reranker" and reranker is None)
        if config.ordering in ("believability", "reranker"):
            reservoir = registry.reservoir(corpus, model)
            found = [
                Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False)
                for i in reservoir.draw(n if cold else pool, rng)
            ]
        else:
            found = registry.model(corpus, model).generate(pool, rng)
        rows = candidate_rows(found, corpus, model, judge, scorers={m: registry.model(corpus, m) for m in models})
        if config.ordering == "random":
            shown = [(int(i), True) for i in rng.choice(len(rows), min(n, len(rows)), replace=False)]
        elif cold:
            shown = [(i, False) for i in range(len(rows))]
        elif config.ordering == "oracle":
            shown = [(int(i), False) for i in np.argsort([-taste(row) for row in rows], kind="stable")[:n]]
        else:
            scores = pool_scores(rows, reranker if config.ordering == "reranker" else None)
            shown = choose_shown(scores, n, explore, rng)
        ups = 0
        for position, (i, explored) in enumerate(shown, 1):
            up = int(rng.random() < taste(rows[i]))
            ups += up
            rows_log.append(
                rows[i]
                | {
                    "channel": "sim",
                    "ts": str(r),
                    "index": position,
                    "explore": explored,
                    "up": up,
                    "down": 0,
                    "shown_at": float(r),
                }
            )
        counts[corpus, model][0] += ups
        counts[corpus, model][1] += len(shown)
        rates.append(ups / max(1, len(shown)))
        if config.ordering == "reranker":
            voted = voted_rows(rows_log)
            if config.waits:
                min_rows, min_each, every = WAITING
                due = (r + 1) % every == 0 and enough_votes(voted, min_rows, min_each)[0]
            else:  # the production rule (jobs.upkeep.retrain_reason)
                fresh = len(voted) - trained_on
                due = enough_votes(voted)[0] and (reranker is None or fresh >= retrain_every(trained_on, mature_every))
            if due:
                reranker = Reranker().fit(voted, labels(voted))
                trained_at = trained_at if trained_at is not None else r + 1
                trained_on = len(voted)
    per_model: dict[str, list[int]] = {}
    for (_, m), (up, shown) in counts.items():
        per_model.setdefault(m, [0, 0])
        per_model[m][0] += up
        per_model[m][1] += shown
    return LoopResult(config, rates, rows_log, {m: tuple(v) for m, v in per_model.items()}, trained_at)
