"""markovify's character chain: the talk's plain forward walk, and its counts as an exact model.

The chain's maximum-likelihood table compiles to the same automaton as the smoothed models, so length
conditioning and pattern completion stay exact; ``walk`` is markovify's own unconditioned walk.
"""

from __future__ import annotations

import functools
import random

import markovify
import numpy as np
from markovify.chain import BEGIN, END

from models.alphabet import BOS, Alphabet
from models.automaton import ContextAutomaton


class MarkovifyLM:
    """Unsmoothed order-k character chain built by ``markovify.Chain`` (state size k)."""

    def __init__(self, order: int = 3):
        self.order = order

    def fit(self, words: list[str]) -> MarkovifyLM:
        self.chain_ = markovify.Chain([list(w) for w in words], state_size=self.order)
        self.chain_json_ = np.frombuffer(self.chain_.to_json().encode(), dtype=np.uint8)
        self.automaton_ = self._compile(Alphabet.of(words))
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The automaton, and markovify's own chain as its JSON (``walk`` needs it)."""
        return self.automaton_.to_arrays() | {"chain_json": self.chain_json_}

    def from_arrays(self, arrays) -> MarkovifyLM:
        self.chain_json_ = arrays["chain_json"]
        self.automaton_ = ContextAutomaton.from_arrays(arrays)
        return self

    @functools.cached_property
    def chain_(self) -> markovify.Chain:
        """markovify's chain, built from its JSON on the first ``walk``: its dicts of Python strings are
        what a loaded model would otherwise hold privately in every worker, and only ``walk`` needs them."""
        return markovify.Chain.from_json(self.chain_json_.tobytes().decode())

    @functools.cached_property
    def walker_(self) -> markovify.Chain:
        return self.chain_.compile()  # markovify's fast walk: 5x faster than the dict form

    def _compile(self, alphabet: Alphabet) -> ContextAutomaton:
        contexts, rows = [], []
        for state, nexts in self.chain_.model.items():
            chars = "".join(t for t in state if t != BEGIN)
            contexts.append((BOS if BEGIN in state else "") + chars)
            row = np.zeros(alphabet.n_symbols)
            for token, count in nexts.items():
                row[0 if token == END else alphabet.id(token)] += count
            rows.append(row / row.sum())
        return ContextAutomaton.from_rows(alphabet, contexts, np.array(rows))

    def walk(self, size: int, rng: np.random.Generator, max_len: int) -> list[str]:
        """markovify's forward walk. It draws from the global ``random``; we seed that from ``rng``
        so a seeded request is reproducible. Walks longer than ``max_len`` are dropped, not cut."""
        random.seed(int(rng.integers(2**63)))
        names = ("".join(self.walker_.walk()) for _ in range(size))
        return [n for n in names if 0 < len(n) <= max_len]

    def log_prob(self, word: str) -> float:
        return self.automaton_.log_prob(word)
