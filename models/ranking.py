"""From a large sample to the n names shown: score with the judge (and the reranker), keep exploring.

Showing only what the reranker already likes would teach it nothing new: a few of the n slots go to
candidates drawn at random from the rest of the sample, put at random positions (so position bias
does not single them out), and marked ``explore`` in the impressions.
"""

from __future__ import annotations

import math

import numpy as np


def candidate_rows(
    found,
    corpus: str,
    model: str,
    judge,
    pattern: str | None = None,
    scorers: dict | None = None,
    real: np.ndarray | None = None,
) -> list[dict]:
    """One row per candidate, in the reranker's (and the export's) vocabulary.

    ``scorers`` ({model name: NameModel} of the same corpus) add each candidate's nats per character
    under every model (None where a model gives it probability 0): agreement between models is a
    signal of its own. ``real``: each candidate's P(real name) from the model's adversarial judge
    (the reservoir's scores), a feature of the reranker.
    """
    if not found:
        return []
    names = [c.name for c in found]
    probs = judge.predict_proba(names)
    classes = list(judge.classes_)
    own = classes.index(corpus) if corpus in classes else None
    chars = np.array([len(n) + 1 for n in names])
    nll = {m: -scorer.log_probs(names) / chars for m, scorer in (scorers or {}).items()}
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
