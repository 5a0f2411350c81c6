"""The reranker: from the team's votes, how likely is a candidate to be up-voted?

One row per impression (a candidate someone was shown), the same dicts ``tnaas votes export``
writes: the name, the request (corpus, model, pattern), its log-probability under the generating
model and nats per character under every model of the corpus, the judge's probability for every
corpus, whether the name exists. Label: more up- than down-votes.
Only messages that got at least one vote are used: a message nobody reacted to says nothing about
which of its candidates were good, only that nobody looked.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler

# A team's first votes are the best evidence of its taste there will ever be, and the believability
# ranking knows nothing of it: learn from them at once. A first reranker from three voted messages
# (15 impressions, 3 up-voted and 3 not), retrained after every voted message while it is young,
# lifted the simulated teams' up-vote rate in rounds 1-50 above random order, where waiting for 60
# impressions (10 of each, first trained around round 40) left it below (bench/feedback_loop.py).
MIN_ROWS = 15  # labelled impressions needed before a reranker is worth training
MIN_EACH = 3  # ... with at least this many up-voted and this many not up-voted
YOUNG_ROWS = 300  # a reranker trained on fewer voted impressions than this is young ...
YOUNG_RETRAIN = 5  # ... and is retrained once this many more came in (one voted message of 5 names)


def row_features(row: dict) -> dict:
    """What the reranker sees besides the characters: length, likelihood, judge, novelty, request."""
    name = row["name"]
    features = {
        "length": len(name),
        f"length={min(len(name), 16)}": 1.0,
        "separators": sum(ch in "-_." for ch in name),
        "digits": sum(ch.isdigit() for ch in name),
        "known": float(bool(row.get("known"))),
        f"corpus={row['corpus']}": 1.0,
        f"model={row['model']}": 1.0,
        "completion": float(row.get("pattern") is not None),
    }
    if row.get("log_prob") is not None and math.isfinite(row["log_prob"]):
        features["nll_per_char"] = -row["log_prob"] / (len(name) + 1)
    if row.get("believability") is not None:
        features["believability"] = row["believability"]
    if row.get("real") is not None:  # the adversarial judge: does it look like a real name?
        features["real"] = row["real"]
    for corpus, p in (row.get("judge") or {}).items():
        features[f"judge={corpus}"] = p
    for model, value in (row.get("nll") or {}).items():  # nats/char under every model of the corpus
        features[f"nll[{model}]" if value is not None else f"impossible[{model}]"] = value if value is not None else 1.0
    return features


def _names(rows) -> list[str]:
    return [r["name"] for r in rows]


def _feature_dicts(rows) -> list[dict]:
    return [row_features(r) for r in rows]


def row_vectorizer(ngram_range: tuple[int, int] = (1, 3)) -> FeatureUnion:
    """Impression rows -> sparse features: character n-grams of the name + ``row_features``."""
    return FeatureUnion(
        [
            (
                "characters",
                make_pipeline(
                    FunctionTransformer(_names),
                    TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True, min_df=2),
                ),
            ),
            ("fields", make_pipeline(FunctionTransformer(_feature_dicts), DictVectorizer())),
        ]
    )


def labels(rows) -> np.ndarray:
    return np.array([int(r.get("up", 0) > r.get("down", 0)) for r in rows])


def voted_rows(rows) -> list[dict]:
    """Impressions on messages that got at least one vote (see the module docstring)."""
    voted = {(r["channel"], r["ts"]) for r in rows if r.get("up", 0) or r.get("down", 0)}
    return [r for r in rows if (r["channel"], r["ts"]) in voted]


def enough_votes(rows, min_rows: int = MIN_ROWS, min_each: int = MIN_EACH) -> tuple[bool, str]:
    """Whether these (voted) rows can train a reranker, and a sentence saying so."""
    y = labels(rows)
    ups, rest = int(y.sum()), int(len(y) - y.sum())
    have = f"{len(y)} impressions on voted messages ({ups} up-voted, {rest} not)"
    if len(y) >= min_rows and ups >= min_each and rest >= min_each:
        return True, have
    return False, f"{have}; need {min_rows} with at least {min_each} of each"


def retrain_every(trained_on: int, mature_every: int) -> int:
    """New voted impressions that make a retrain due for a reranker trained on ``trained_on`` of them:
    ``YOUNG_RETRAIN`` while it is young (each vote still moves it a lot), ``mature_every`` after."""
    return YOUNG_RETRAIN if trained_on < YOUNG_ROWS else mature_every


class Reranker(BaseEstimator, ClassifierMixin):
    """``fit(rows, y)``; ``predict_proba(rows)[:, 1]`` is P(up-vote). Logistic regression, balanced."""

    def __init__(self, C: float = 1.0, ngram_range: tuple[int, int] = (1, 3)):
        self.C = C
        self.ngram_range = ngram_range

    def fit(self, X: list[dict], y) -> Reranker:
        self.pipeline_ = Pipeline(
            [
                ("features", row_vectorizer(self.ngram_range)),
                ("scale", MaxAbsScaler()),
                ("linear", LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000)),
            ]
        )
        self.pipeline_.fit(X, np.asarray(y))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X: list[dict]) -> np.ndarray:
        return self.pipeline_.predict_proba(X)

    def predict(self, X: list[dict]) -> np.ndarray:
        return self.pipeline_.predict(X)

    def score(self, X: list[dict], y) -> float:
        """ROC AUC: how well the scores order up-voted candidates above the rest."""
        return float(roc_auc_score(y, self.predict_proba(X)[:, 1]))


def split_by_message(rows: list[dict], test: float = 0.25, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Hold out whole messages, so candidates shown side by side never straddle the split."""
    messages = sorted({(r["channel"], r["ts"]) for r in rows})
    rng = np.random.default_rng(seed)
    held = {messages[i] for i in rng.permutation(len(messages))[: max(1, int(len(messages) * test))]}
    train = [r for r in rows if (r["channel"], r["ts"]) not in held]
    return train, [r for r in rows if (r["channel"], r["ts"]) in held]


def evaluate_reranker(rows: list[dict], seed: int = 0) -> dict:
    """Held-out ROC AUC (by message), against the judge's believability as a ranking on the same rows."""
    train, test = split_by_message(rows, seed=seed)
    y_test = labels(test)
    if len(set(labels(train))) < 2 or len(set(y_test)) < 2:
        return {"heldout_auc": None, "heldout_rows": len(test)}
    model = Reranker().fit(train, labels(train))
    believability = [r.get("believability") or 0.0 for r in test]
    return {
        "heldout_auc": round(model.score(test, y_test), 4),
        "believability_auc": round(float(roc_auc_score(y_test, believability)), 4),
        "heldout_rows": len(test),
        "heldout_up_rate": round(float(y_test.mean()), 4),
    }
