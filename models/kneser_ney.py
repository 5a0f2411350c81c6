"""Interpolated modified Kneser-Ney character model of any order (Chen & Goodman, 1998).

Order k means k symbols of history (a (k+1)-gram model); the start marker counts as a symbol, so
"^ab" is an order-3 context. Discounts per order come from count-of-counts (Chen-Goodman estimates)
unless given. Training is one pass of counting plus vectorised arithmetic per order: seconds on 30k names.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from models.alphabet import BOS, END, Alphabet
from models.automaton import ContextAutomaton


def count_ngrams(words: list[str], order: int, alphabet: Alphabet) -> Counter:
    """Counts of (context, symbol id) for every context length 0..order."""
    counts: Counter = Counter()
    for w in words:
        padded = BOS + w
        syms = [alphabet.id(ch) for ch in w] + [END]
        for i, sym in enumerate(syms):
            seen = i + 1  # symbols of history available, including the start marker
            for length in range(min(order, seen) + 1):
                counts[padded[seen - length : seen], sym] += 1
    return counts


def chen_goodman_discounts(adjusted: np.ndarray) -> np.ndarray:
    """D(1), D(2), D(3+) from the count-of-counts of one order's (adjusted) counts."""
    n = [np.count_nonzero(adjusted == i) for i in range(1, 5)]
    if min(n) == 0:  # too little data for the estimate: a conventional fallback
        return np.array([0.5, 1.0, 1.5])
    y = n[0] / (n[0] + 2 * n[1])
    d = np.array([1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]])
    return np.clip(d, 0.05, [1.0, 2.0, 3.0])


class KneserNeyLM:
    """Character n-gram model with interpolated modified Kneser-Ney smoothing.

    ``fit`` learns ``automaton_`` (states = seen contexts) and ``discounts_`` (per context length).
    """

    def __init__(self, order: int = 5, discounts: list[list[float]] | None = None):
        self.order = order
        self.discounts = discounts

    def fit(self, words: list[str]) -> KneserNeyLM:
        if self.order < 1:
            raise ValueError("order must be at least 1")
        alphabet = Alphabet.of(words)
        v = alphabet.n_symbols
        counts = count_ngrams(words, self.order, alphabet)
        contexts = sorted({ctx for ctx, _ in counts}, key=lambda c: (len(c), c))
        ids = {c: i for i, c in enumerate(contexts)}
        raw = np.zeros((len(contexts), v))
        keys = list(counts)
        rows = np.fromiter((ids[c] for c, _ in keys), dtype=np.int64, count=len(keys))
        cols = np.fromiter((s for _, s in keys), dtype=np.int64, count=len(keys))
        raw[rows, cols] = np.fromiter(counts.values(), dtype=np.float64, count=len(keys))

        lengths = np.array([len(c) for c in contexts])
        parent = np.array([ids[c[1:]] if c else -1 for c in contexts])
        # Lower orders use continuation counts (how many distinct symbols precede), except contexts
        # that begin with the start marker, which nothing can precede: they keep raw counts.
        adjusted = raw.copy()
        lower = (lengths < self.order) & ~np.array([c.startswith(BOS) for c in contexts])
        continuation = np.zeros_like(raw)
        has_parent = parent >= 0
        np.add.at(continuation, parent[has_parent], (raw[has_parent] > 0).astype(float))
        adjusted[lower] = continuation[lower]

        probs = np.zeros_like(raw)
        self.discounts_ = []
        for length in range(self.order + 1):
            level = np.flatnonzero(lengths == length)
            a = adjusted[level]
            d = (
                np.asarray(self.discounts[length], dtype=float)
                if self.discounts is not None
                else chen_goodman_discounts(a[a > 0])
            )
            self.discounts_.append(d.tolist())
            disc = np.where(a >= 3, d[2], np.where(a == 2, d[1], np.where(a == 1, d[0], 0.0)))
            total = a.sum(axis=1, keepdims=True)
            gamma = disc.sum(axis=1, keepdims=True) / total
            lower_dist = np.full((len(level), v), 1.0 / v) if length == 0 else probs[parent[level]]
            probs[level] = np.maximum(a - disc, 0.0) / total + gamma * lower_dist
        self.automaton_ = ContextAutomaton.from_rows(alphabet, contexts, probs)
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        """What an artifact keeps: the automaton (the counts are not needed to sample or score)."""
        return self.automaton_.to_arrays()

    def from_arrays(self, arrays) -> KneserNeyLM:
        self.automaton_ = ContextAutomaton.from_arrays(arrays)
        return self

    def log_prob(self, word: str) -> float:
        return self.automaton_.log_prob(word)
