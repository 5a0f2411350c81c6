"""A character language model compiled to a finite automaton over the contexts it has seen.

Every count-based model here (Kneser-Ney, markovify's maximum-likelihood chain, pomegranate's
order-1 chain) assigns P(next symbol | history) from the longest suffix of the history that occurred
in training: an unseen context backs off completely to its suffix. So the longest seen suffix is a
sufficient state, and the model is a deterministic automaton: one row of next-symbol probabilities and
one row of successor states per seen context. Exact sampling and completion work on that automaton
and never look at the raw counts; keeping only the contexts that occur keeps them sparse (a dense order-4
table over every k-gram is what made exact completion slow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.alphabet import BOS, END, Alphabet


@dataclass(frozen=True)
class ContextAutomaton:
    """Plain data: ``probs[s, v]`` = P(symbol v | state s); ``next_state[s, v]`` = state after v.

    Symbol ids are the alphabet's (0 is the end of the name).
    """

    alphabet: Alphabet
    contexts: np.ndarray  # (n_states,) str, the context each state stands for (BOS-prefixed at the start)
    probs: np.ndarray  # (n_states, V) float64, rows sum to 1
    next_state: np.ndarray  # (n_states, V) int32; column END is unused
    start: int

    @property
    def n_symbols(self) -> int:
        return self.alphabet.n_symbols

    @property
    def order(self) -> int:
        return max(len(c) for c in self.contexts)

    def encode(self, word: str) -> np.ndarray | None:
        return self.alphabet.encode(word)

    def decode(self, ids) -> str:
        return self.alphabet.decode(ids)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for an artifact (see ``from_arrays``)."""
        return {
            "alphabet": np.array(self.alphabet.chars),
            "contexts": self.contexts,
            "probs": self.probs,
            "next_state": self.next_state,
            "start": np.array(self.start),
        }

    @classmethod
    def from_arrays(cls, arrays) -> ContextAutomaton:
        return cls(
            Alphabet(str(arrays["alphabet"])),
            arrays["contexts"],
            arrays["probs"],
            arrays["next_state"],
            int(arrays["start"]),
        )

    def log_prob(self, word: str) -> float:
        """log P(word, then end) by walking the automaton; -inf for impossible words."""
        ids = self.encode(word)
        if ids is None:
            return float("-inf")
        state, total = self.start, 0.0
        with np.errstate(divide="ignore"):
            for i in ids:
                total += float(np.log(self.probs[state, i]))
                state = int(self.next_state[state, i])
            return total + float(np.log(self.probs[state, END]))

    def log_probs(self, words: list[str]) -> np.ndarray:
        """``log_prob`` of many words at once: one vectorised step per character position."""
        ids, lengths, known = self.alphabet.encode_many(words)
        total = self.log_probs_ids(ids, lengths)
        total[~known] = -np.inf
        return total

    def log_probs_ids(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """log P(word, then end) for rows of symbol ids; row r uses its first ``lengths[r]`` columns.

        Columns past a row's length must hold 0 (the end symbol): then column ``lengths[r]`` scores the
        end, and every row takes the same steps with no per-column masking (the fast path for batches).
        """
        n, width = ids.shape
        if width and (ids[np.arange(width)[None, :] >= lengths[:, None]] != 0).any():
            ids = np.where(np.arange(width)[None, :] < lengths[:, None], ids, 0)
        flat_p, flat_next, v = self.probs.reshape(-1), self.next_state.reshape(-1), self.probs.shape[1]
        state = np.full(n, self.start, dtype=np.int64)
        product, total = np.ones(n), np.zeros(n)
        with np.errstate(divide="ignore"):  # the entries used only, never the whole table
            for col in range(width):
                at = state * v + ids[:, col]
                product *= np.where(col <= lengths, flat_p[at], 1.0)
                state = flat_next[at].astype(np.int64)
                if col % 8 == 7:  # eight probabilities at a time: a product of more could underflow
                    total += np.log(product)
                    product[:] = 1.0
            total += np.log(product)
            return total + np.where(lengths >= width, np.log(self.probs[state, END]), 0.0)

    def length_tail(self, max_len: int) -> np.ndarray:
        """``tail[r, s]`` = P(exactly r more characters, then the end | state s), for r = 0..max_len.

        This backward table is what makes length-conditioned sampling exact and O(V) per character.
        """
        tail = np.empty((max_len + 1, len(self.contexts)))
        tail[0] = self.probs[:, END]
        p, nxt = self.probs[:, 1:], self.next_state[:, 1:]
        for r in range(1, max_len + 1):
            tail[r] = (p * tail[r - 1][nxt]).sum(axis=1)
        return tail

    @classmethod
    def from_rows(cls, alphabet: Alphabet, contexts: list[str], rows: np.ndarray) -> ContextAutomaton:
        """Compile context -> next-symbol probability rows into an automaton.

        The context set is closed under suffixes and prefixes (added contexts get zero rows: only
        probability-zero moves reach them). Then the successor of state ``s`` under symbol ``c`` is
        ``s + c`` where that was seen, else the successor of ``s[1:]`` under ``c``: built level by
        level, shortest contexts first.
        """
        known = dict.fromkeys(contexts)
        work = list(contexts)
        while work:  # close under suffixes and prefixes; additions get zero rows
            ctx = work.pop()
            for sub in (ctx[1:], ctx[:-1]) if ctx else ():
                if sub not in known:
                    known[sub] = None
                    work.append(sub)
        ordered = sorted(known, key=lambda c: (len(c), c))
        ids = {c: i for i, c in enumerate(ordered)}
        n, v = len(ordered), alphabet.n_symbols
        probs = np.zeros((n, v))
        probs[[ids[c] for c in contexts]] = rows
        next_state = np.zeros((n, v), dtype=np.int32)
        by_length: dict[int, list[str]] = {}
        for c in ordered:
            by_length.setdefault(len(c), []).append(c)
        for length in sorted(by_length)[1:]:
            level = by_length[length]
            for c in level:  # seen extensions override what a prefix inherited from its own parent
                if c != BOS:
                    next_state[ids[c[:-1]], alphabet.id(c[-1])] = ids[c]
            for c in level:  # rows one shorter are now final: inherit the parent's successors
                next_state[ids[c]] = next_state[ids[c[1:]]]
        start = ids.get(BOS, ids[""])
        return cls(alphabet, np.array(ordered), probs, next_state, start)
