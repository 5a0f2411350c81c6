"""Has what people ask for drifted from what the reranker was trained on?

Adversarial validation: label the training-time impressions 0 and the recent ones 1, and let a
classifier try to tell them apart (cross-validated, on equal-sized samples). If it cannot, accuracy
stays near 50% and the old data still describes today's requests; accuracy well above 50% means the
requests (corpora, models, patterns, the names shown) have changed and the reranker should be retrained.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from models.reranker import row_vectorizer

MIN_EACH = 30  # fewer rows on either side: too little to tell


class DriftReport(BaseModel):
    old: int
    new: int
    compared: int  # rows per side actually used (the smaller side, capped)
    accuracy: float | None
    auc: float | None
    threshold: float | None
    drifted: bool
    advice: str


def drift_threshold(per_side: int) -> float:
    """Accuracy a no-drift classifier exceeds with probability ~0.001 (0.5 + 3 s.e.), and at least 0.6."""
    return max(0.6, 0.5 + 3 * 0.5 / math.sqrt(2 * per_side))


def check_drift(old: list[dict], new: list[dict], max_per_side: int = 2000, seed: int = 0) -> DriftReport:
    per_side = min(len(old), len(new), max_per_side)
    if per_side < MIN_EACH:
        return DriftReport(
            old=len(old),
            new=len(new),
            compared=per_side,
            accuracy=None,
            auc=None,
            threshold=None,
            drifted=False,
            advice=f"Too few impressions to compare (need {MIN_EACH} on each side).",
        )
    rng = np.random.default_rng(seed)
    sample = [old[i] for i in rng.choice(len(old), per_side, replace=False)]
    sample += [new[i] for i in rng.choice(len(new), per_side, replace=False)]
    y = np.repeat([0, 1], per_side)
    classifier = Pipeline(
        [
            ("features", row_vectorizer()),
            ("scale", MaxAbsScaler()),
            ("linear", LogisticRegression(C=1.0, max_iter=2000)),
        ]
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    p_new = cross_val_predict(classifier, sample, y, cv=folds, method="predict_proba")[:, 1]
    accuracy = float(np.mean((p_new > 0.5) == y))
    threshold = drift_threshold(per_side)
    drifted = accuracy > threshold
    advice = (
        "Recent requests differ from the reranker's training data: retrain (`tnaas train`)."
        if drifted
        else "Recent requests look like the training data: no need to retrain."
    )
    return DriftReport(
        old=len(old),
        new=len(new),
        compared=per_side,
        accuracy=round(accuracy, 4),
        auc=round(float(roc_auc_score(y, p_new)), 4),
        threshold=round(threshold, 4),
        drifted=drifted,
        advice=advice,
    )
