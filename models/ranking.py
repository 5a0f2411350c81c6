"""From a large sample to the n names shown: score with the judge (and the reranker), keep exploring.

Showing only what the reranker already likes would teach it nothing new: a few of the n slots go to
candidates drawn at random from the rest of the sample, put at random positions (so position bias
does not single them out), and marked ``explore`` in the impressions.
"""

from __future__ import annotations

import math

import numpy as np

from models.name_model import Candidate


class PoolFeatures:
    """The judge's probabilities and the nats per character under each model, for every name of a
    reservoir at once: computed on first use in one vectorised pass (about a second for 20,000 names)
    and kept with the loaded models, so a request's rows are look-ups rather than ~5 ms of scikit-learn
    and scoring per request. Row for row the same values as scoring the names one request at a time."""

    def __init__(self, names, judge, scorers: dict):
        names = list(names)
        self.classes = list(judge.classes_)
        self.probs = judge.predict_proba(names)
        chars = np.array([len(n) + 1 for n in names])
        self.nll = {m: -scorer.log_probs(names) / chars for m, scorer in scorers.items()}

    def take(self, picked: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self.probs[picked], {m: v[picked] for m, v in self.nll.items()}


def candidate_rows(
    found,
    corpus: str,
    model: str,
    judge,
    pattern: str | None = None,
    scorers: dict | None = None,
    real: np.ndarray | None = None,
    features: tuple[PoolFeatures, np.ndarray] | None = None,
) -> list[dict]:
    """One row per candidate, in the reranker's (and the export's) vocabulary.

    ``scorers`` ({model name: NameModel} of the same corpus) add each candidate's nats per character
    under every model (None where a model gives it probability 0): agreement between models is a
    signal of its own. ``real``: each candidate's P(real name) from the model's adversarial judge
    (the reservoir's scores), a feature of the reranker. ``features``: the reservoir's precomputed
    judge and nll columns and the indices ``found`` was drawn at (then ``judge`` and ``scorers`` are
    not called).
    """
    if not found:
        return []
    if features is not None:
        pool, picked = features
        classes = pool.classes
        probs, nll = pool.take(picked)
    else:
        names = [c.name for c in found]
        probs = judge.predict_proba(names)
        classes = list(judge.classes_)
        chars = np.array([len(n) + 1 for n in names])
        nll = {m: -scorer.log_probs(names) / chars for m, scorer in (scorers or {}).items()}
    own = classes.index(corpus) if corpus in classes else None
    return [
        {
            "name": c.name,
            "log_prob": round(float(c.log_prob), 4),
            "known": bool(c.known),
            "corpus": corpus,
            "model": model,
            "pattern": pattern,
            "believability": round(float(p[own]), 4) if own is not None else None,
            "real": round(float(real[i]), 4) if real is not None else None,
            "judge": {k: round(float(v), 4) for k, v in zip(classes, p)},
            "nll": {m: round(float(v[i]), 4) if np.isfinite(v[i]) else None for m, v in nll.items()},
        }
        for i, (c, p) in enumerate(zip(found, probs))
    ]


def reservoir_scores(reservoir, corpus: str, model: str, features: PoolFeatures, reranker) -> np.ndarray:
    """P(up-vote) under ``reranker`` of every name of a reservoir, in its order: a generation request's
    rows from a reservoir depend on the name and (corpus, model) only, so the reranker scores each name
    once per reranker version (about a second for 20,000 names) and a request looks its pool up, in
    microseconds instead of ~4 ms of scikit-learn per pool of 100. Row for row the same values as
    ``pool_scores`` of the request's own rows."""
    every = np.arange(len(reservoir))
    found = [Candidate(name, float(lp), False) for name, lp in zip(reservoir.names, reservoir.log_probs)]
    rows = candidate_rows(found, corpus, model, None, real=reservoir.scores, features=(features, every))
    return pool_scores(rows, reranker)


def pool_scores(rows: list[dict], reranker=None) -> np.ndarray:
    """P(up-vote) from the reranker when one is deployed; the judge's believability otherwise."""
    if not rows:
        return np.zeros(0)
    if reranker is not None:
        return reranker.predict_proba(rows)[:, 1]
    return np.array([r["believability"] if r["believability"] is not None else 0.0 for r in rows])


def choose_shown(scores: np.ndarray, n: int, explore: float, rng: np.random.Generator) -> list[tuple[int, bool]]:
    """(index into the pool, explored?) for the n shown: best first, ``explore`` of them random."""
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    n = min(n, len(order))
    k = min(math.floor(n * explore + rng.random()), n, len(order) - n) if explore > 0 else 0  # E[k] = n * explore
    best = [(int(i), False) for i in order[: n - k]]
    rest = order[n - k :]
    explored = [(int(i), True) for i in rng.choice(rest, size=k, replace=False)] if k else []
    shown = best
    for item in explored:
        shown.insert(int(rng.integers(0, len(shown) + 1)), item)
    return shown
