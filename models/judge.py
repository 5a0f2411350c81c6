"""The judge: which corpus does a string sound like? (Is snorlax a Pokemon or a PyPI package?)

TF-IDF over character 1-4-grams within word boundaries, then multinomial logistic regression with
balanced class weights, so a big corpus (PyPI) does not win by size alone. It also knows every real
name, so a name that exists is reported as real, never merely "likely". The same probabilities
rank generated candidates by believability.
"""

from __future__ import annotations

import random

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import Pipeline

from corpora import corpus_names, load_corpus
from models.pattern import normalise_pattern

HARD_CASE = ("pokemon", "pypi", "npm")


def corpus_dataset() -> tuple[list[str], list[str]]:
    """Every (name, corpus) pair; a name in two corpora appears once under each."""
    names, labels = [], []
    for corpus in corpus_names():
        words = load_corpus(corpus)
        names += words
        labels += [corpus] * len(words)
    return names, labels


def split_by_name(names: list[str], labels: list[str], test: float = 0.2, seed: int = 42):
    """Hold out whole names (every corpus a held-out name is in), stratified by corpus."""
    by_corpus: dict[str, list[str]] = {}
    for n, c in zip(names, labels):
        by_corpus.setdefault(c, []).append(n)
    rng = random.Random(seed)
    held = set()
    for corpus in sorted(by_corpus):
        members = sorted(set(by_corpus[corpus]))
        held.update(rng.sample(members, int(len(members) * test)))
    train = [(n, c) for n, c in zip(names, labels) if n not in held]
    tested = [(n, c) for n, c in zip(names, labels) if n in held]
    return train, tested


class CorpusJudge:
    """``fit(names, corpora)``; ``predict_proba`` per corpus; ``real_in(name)`` exact membership."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 4), C: float = 5.0):
        self.ngram_range = ngram_range
        self.C = C

    def fit(self, X: list[str], y: list[str]) -> CorpusJudge:
        self.pipeline_ = Pipeline(
            [
                (
                    "ngrams",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=self.ngram_range, sublinear_tf=True, dtype=np.float32
                    ),
                ),
                ("linear", LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000)),
            ]
        )
        self.pipeline_.fit([self._prepare(x) for x in X], y)
        self.classes_ = self.pipeline_.classes_
        self.members_: dict[str, list[str]] = {}
        for name, corpus in zip(X, y):
            self.members_.setdefault(name, []).append(corpus)
        return self

    @staticmethod
    def _prepare(text: str) -> str:
        # Hyphens and dots separate words in package names: let char_wb see word boundaries there.
        return normalise_pattern(text).replace("-", " ").replace("_", " ").replace(".", " ")

    def predict_proba(self, X: list[str]) -> np.ndarray:
        return self.pipeline_.predict_proba([self._prepare(x) for x in X])

    def predict(self, X: list[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X: list[str], y: list[str]) -> float:
        return float(accuracy_score(y, self.predict(X)))

    def believability(self, candidates: list[str], corpus: str) -> np.ndarray:
        """P(corpus | candidate): how much each candidate sounds like the corpus it was made for."""
        return self.predict_proba(candidates)[:, list(self.classes_).index(corpus)]

    def real_in(self, name: str) -> list[str]:
        return sorted(self.members_.get(normalise_pattern(name), []))


def evaluate_judge(seed: int = 42) -> dict:
    """Held-out accuracy, macro-F1 and the confusion matrix, from a judge fitted on 80% of names."""
    train, test = split_by_name(*corpus_dataset(), seed=seed)
    judge = CorpusJudge().fit(*map(list, zip(*train)))
    names, truth = map(list, zip(*test))
    pred = judge.predict(names)
    hard = [i for i, t in enumerate(truth) if t in HARD_CASE]
    labels = list(judge.classes_)
    return {
        "accuracy": round(float(accuracy_score(truth, pred)), 4),
        "macro_f1": round(float(f1_score(truth, pred, average="macro")), 4),
        "labels": labels,
        "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
        "hard_case_accuracy": round(float(accuracy_score([truth[i] for i in hard], pred[hard])), 4),
        "heldout_names": len(test),
    }
