"""The adversarial judge of a reservoir: is this a real name, or one of this model's own samples?

Its own module because it is the only part of ``models.believability`` that needs scikit-learn, which
training imports and serving a reservoir does not (see that module for how the judge is used).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from models.believability import JUDGE_PARAMS


class BelievabilityJudge(BaseEstimator, ClassifierMixin):
    """``fit(names, y)`` with y = 1 for real names, 0 for model samples; ``predict_proba(names)[:, 1]``
    is P(real). Character 1-3-grams within word boundaries (TF-IDF), logistic regression, balanced.

    Strongly regularised on purpose: with C=1 (or 1-5-grams) the tier was called real less often by
    both detectors of bench/believability.py (pokemon kn3, top 12,000 of 300,000: 0.44 / 0.41 with
    C=1, 0.55 / 0.54 with C=0.1 and 5 samples per name; 0.50 / 0.47 with C=0.3 and 2)."""

    def __init__(self, ngram_range: tuple[int, int] = JUDGE_PARAMS["ngram_range"], C: float = JUDGE_PARAMS["C"]):
        self.ngram_range = ngram_range
        self.C = C

    def fit(self, X: list[str], y) -> BelievabilityJudge:
        self.__dict__.pop("keys_", None)  # the vectorised scoring's vocabulary keys, of the previous fit
        self.pipeline_ = Pipeline(
            [
                (
                    "ngrams",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=self.ngram_range, sublinear_tf=True, dtype=np.float32
                    ),
                ),
                ("linear", LogisticRegression(C=self.C, class_weight="balanced", max_iter=3000)),
            ]
        )
        self.pipeline_.fit(list(X), np.asarray(y))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X: list[str]) -> np.ndarray:
        return self.pipeline_.predict_proba(list(X))

    def predict(self, X: list[str]) -> np.ndarray:
        return self.pipeline_.predict(list(X))

    def believability(self, X: list[str]) -> np.ndarray:
        """P(real) of each name; names without whitespace (all a name model samples) in one vectorised
        pass that gives the pipeline's own figures (``_linear_scores``): a reservoir scores 100,000
        candidates, which the vectorizer's per-gram Python loop takes seconds over."""
        names = [x.lower() for x in X]
        # whitespace (char_wb splits there; printable strings hold none but " "), an empty name (no word at
        # all) and one shorter than the longest gram (char_wb then repeats the whole word) go the pipeline's way
        shortest = self.pipeline_.named_steps["ngrams"].ngram_range[1] - 2
        spaced = np.fromiter(
            (" " in x or not x.isprintable() or len(x) < max(shortest, 1) for x in names), dtype=bool, count=len(names)
        )
        logits = np.empty(len(names))
        plain = np.flatnonzero(~spaced)
        if plain.size:
            logits[plain] = self._linear_scores([names[i] for i in plain])
        if spaced.any():
            others = [names[i] for i in np.flatnonzero(spaced)]
            logits[spaced] = self.pipeline_.decision_function(others)
        real = 1.0 / (1.0 + np.exp(-logits))
        return real if list(self.classes_).index(1) == 1 else 1.0 - real

    def _linear_scores(self, names: list[str]) -> np.ndarray:
        """The pipeline's decision function for names without whitespace: every character n-gram of
        `` name `` (``char_wb``'s grams of a one-word text) keyed by its characters' codes, looked up in
        the vocabulary, weighted (1 + log count) * idf, L2-normalised and dotted with the coefficients."""
        vectorizer, linear = self.pipeline_.named_steps["ngrams"], self.pipeline_.named_steps["linear"]
        lo, hi = vectorizer.ngram_range
        if not hasattr(self, "keys_"):
            self.keys_, self.columns_, self.chars_ = _vocabulary_keys(vectorizer.vocabulary_, hi)
        if self.keys_ is None:  # too many characters for a gram to fit one integer key
            return self.pipeline_.decision_function(names)
        base = int(self.chars_.max()) + 1
        width = max(len(n) for n in names) + 2
        padded = np.array([f" {n} " for n in names], dtype=f"<U{width}").view(np.uint32).reshape(len(names), width)
        lengths = np.fromiter((len(n) + 2 for n in names), dtype=np.int64, count=len(names))
        codes = self.chars_[np.minimum(padded, len(self.chars_) - 1)]  # 0: a character the vocabulary lacks
        rows, columns = [], []
        for n in range(lo, hi + 1):
            if width < n:
                continue
            key = np.zeros((len(names), width - n + 1), dtype=np.int64)
            for k in range(n):
                key = key * base + codes[:, k : width - n + 1 + k]
            key = key * (hi + 1) + n
            valid = np.arange(width - n + 1)[None, :] + n <= lengths[:, None]
            row, start = np.nonzero(valid)
            key = key[row, start]
            at = np.searchsorted(self.keys_, key).clip(0, len(self.keys_) - 1)
            found = self.keys_[at] == key  # a gram with an unknown character has a 0 digit: never a key
            rows.append(row[found])
            columns.append(self.columns_[at[found]])
        row, col = np.concatenate(rows), np.concatenate(columns)
        vocabulary = len(vectorizer.idf_)
        pair, count = np.unique(row * vocabulary + col, return_counts=True)
        row, col = pair // vocabulary, pair % vocabulary
        value = (1.0 + np.log(count)) * vectorizer.idf_[col]
        norm = np.sqrt(np.bincount(row, value**2, minlength=len(names)))
        dot = np.bincount(row, value * linear.coef_[0][col], minlength=len(names))
        return np.divide(dot, norm, out=np.zeros(len(names)), where=norm > 0) + linear.intercept_[0]


def _vocabulary_keys(vocabulary: dict[str, int], longest: int) -> tuple:
    """Sorted integer keys of the vocabulary's n-grams (their characters as digits, then the gram's
    length), their columns, and a table from character code to digit (1 upwards; 0 for a character no
    gram has, and for every code past the table's end, which maps to its last entry). Three Nones when
    grams of ``longest`` characters would not fit an int64 key."""
    position = {c: i + 1 for i, c in enumerate(sorted({ord(c) for gram in vocabulary for c in gram}))}
    base = len(position) + 1
    if base**longest * (longest + 1) >= 2**63:
        return None, None, None
    chars = np.zeros(max(position, default=0) + 2, dtype=np.int64)
    chars[list(position)] = list(position.values())
    keys = np.empty(len(vocabulary), dtype=np.int64)
    columns = np.empty(len(vocabulary), dtype=np.int64)
    for i, (gram, column) in enumerate(vocabulary.items()):
        key = 0
        for c in gram:
            key = key * base + position[ord(c)]
        keys[i], columns[i] = key * (longest + 1) + len(gram), column
    order = np.argsort(keys)
    return keys[order], columns[order], chars
