"""From a large sample to the n names shown: score with the judge (and the reranker), keep exploring.

Showing only what the reranker already likes would teach it nothing new: a few of the n slots go to
candidates drawn at random from the rest of the sample, put at random positions (so position bias
does not single them out), and marked ``explore`` in the impressions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import artifact
from models.artifact import ArtifactInfo
from models.name_model import Candidate

RESCORED_AT_ONCE = 2000  # reservoir names per reranker call: bounds the rows held at once


@dataclass(frozen=True)
class PoolFeatures:
    """The judge's probabilities and the nats per character under each model, for every name of a
    reservoir: computed once, at training (``computed``; about a second for 20,000 names), and stored
    beside the reservoir (``<corpus>/ranking/<model>.npz``), so a request's rows are look-ups rather
    than ~5 ms of scikit-learn and scoring per request, and every worker maps the one stored copy. Row
    for row the same values as scoring the names one request at a time."""

    classes: list[str]  # the judge's, in its column order
    probs: np.ndarray  # (names, classes)
    nll: dict[str, np.ndarray]  # model -> (names,), inf where the model cannot make the name

    @classmethod
    def computed(cls, names, judge, scorers: dict) -> PoolFeatures:
        names = list(names)
        chars = np.array([len(n) + 1 for n in names])
        return cls(
            list(judge.classes_),
            judge.predict_proba(names),
            {m: -scorer.log_probs(names) / chars for m, scorer in scorers.items()},
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"classes": np.array(self.classes), "judge": self.probs} | {f"nll.{m}": v for m, v in self.nll.items()}

    @classmethod
    def from_arrays(cls, arrays) -> PoolFeatures:
        nll = {name[4:]: v for name, v in arrays.items() if name.startswith("nll.")}
        return cls(arrays["classes"].tolist(), arrays["judge"], nll)

    def __len__(self) -> int:
        return len(self.probs)

    def select(self, models) -> PoolFeatures:
        """The same columns with only ``models``' nll (KeyError for one it was not scored by)."""
        return PoolFeatures(self.classes, self.probs, {m: self.nll[m] for m in models})

    def take(self, picked: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self.probs[picked], {m: v[picked] for m, v in self.nll.items()}


def save_columns(features: PoolFeatures, info: ArtifactInfo, path: Path) -> None:
    """A reservoir's ranking columns, with what they were computed from in ``info.params``."""
    artifact.save_arrays(path, info.header(), features.to_arrays())


def load_columns(path: Path) -> tuple[PoolFeatures, ArtifactInfo]:
    info, arrays = artifact.open_checked(path)
    return PoolFeatures.from_arrays(arrays), info


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
    ``pool_scores`` of the request's own rows. The rows are made and scored ``RESCORED_AT_ONCE`` at a
    time: all 20,000 at once would hold ~100 MB of dicts for that second."""
    out = np.zeros(len(reservoir))
    for start in range(0, len(reservoir), RESCORED_AT_ONCE):
        some = np.arange(start, min(start + RESCORED_AT_ONCE, len(reservoir)))
        found = [Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False) for i in some]
        rows = candidate_rows(found, corpus, model, None, real=reservoir.scores[some], features=(features, some))
        out[some] = pool_scores(rows, reranker)
    return out


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
