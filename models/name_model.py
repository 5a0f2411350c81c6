"""A deployable name model: a character LM, a length prior, and the corpus it must not copy."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.limits import MAX_NAME_LEN
from core.pattern import normalise_pattern
from models.length_prior import LengthPrior
from models.pattern import encode_pattern
from models.sampling import backward_sample, forward_filter, marginals, sample_fixed_length
from models.strings import NameSet

MAX_ROUNDS = 12  # bounded resampling when asking for n distinct (novel) names


@dataclass(frozen=True)
class Candidate:
    name: str
    log_prob: float  # log P(name) under the model, length prior included
    known: bool  # the name is already in the training corpus

    @property
    def nll_per_char(self) -> float:
        return -self.log_prob / (len(self.name) + 1)


class NameModel:
    """Wraps any LM that exposes ``automaton_`` (and optionally ``walk`` / ``complete_ids``).

    Generation draws L from the corpus' length prior, then characters conditioned on ending at L.
    Names already in the corpus are excluded from generation by default (a user wants new names) and
    kept but marked in completions (a real name that fits a pattern is a useful answer).
    """

    def __init__(self, lm, corpus: str = "corpus", max_len: int = MAX_NAME_LEN):
        self.lm = lm
        self.corpus = corpus
        self.max_len = max_len

    def fit(self, words: list[str]) -> NameModel:
        self.lm.fit(words)
        prior = LengthPrior(self.max_len).fit(words)
        return self._adopt(prior.probs_, NameSet.of(words))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for an artifact: the LM's own (see its ``to_arrays``) and the tables around it."""
        return self.lm.to_arrays() | {
            "length_probs": self.length_prior_.probs_,
            "tail": self.tail_,  # stored: recomputing it is most of a large model's load time
            "words": self.known_.keys,
        }

    @classmethod
    def from_arrays(cls, lm, corpus: str, arrays) -> NameModel:
        """The inverse of ``to_arrays``; ``lm`` is an unfitted LM of the kind that wrote them."""
        return cls(lm.from_arrays(arrays), corpus)._adopt(
            arrays["length_probs"], NameSet(arrays["words"]), arrays["tail"]
        )

    def _adopt(self, length_probs: np.ndarray, known: NameSet, tail: np.ndarray | None = None) -> NameModel:
        """Adopt the LM's automaton and the tables derived from it (after ``fit`` or loading)."""
        self.automaton_ = self.lm.automaton_
        self.tail_ = self.automaton_.length_tail(self.max_len) if tail is None else tail
        self.length_prior_ = LengthPrior(self.max_len)
        self.length_prior_.probs_ = np.asarray(length_probs, dtype=float)
        self.length_prior_.restrict_to(self.tail_[:, self.automaton_.start] > 0)
        self.known_ = known  # the corpus' names: never generated as new
        return self

    # -- scoring ---------------------------------------------------------------------------------
    def log_prob(self, word: str) -> float:
        """log p(L) + log P(word | length L): the chain's own stopping replaced by the length prior."""
        chain = self.automaton_.log_prob(word)
        if not 0 < len(word) <= self.max_len or chain == float("-inf"):
            return float("-inf")
        z = self.tail_[len(word), self.automaton_.start]
        return self.length_prior_.log_prob(len(word)) + chain - float(np.log(z))

    def log_probs(self, words: list[str]) -> np.ndarray:
        """``log_prob`` of many words at once (the reranker scores every pool under every model)."""
        if not words:
            return np.zeros(0)
        chain = self.automaton_.log_probs(words)
        lengths = np.array([len(w) for w in words])
        ok = (lengths > 0) & (lengths <= self.max_len) & np.isfinite(chain)
        out = np.full(len(words), -np.inf)
        with np.errstate(divide="ignore"):
            prior = np.log(self.length_prior_.probs_[lengths[ok]])
        out[ok] = prior + chain[ok] - np.log(self.tail_[lengths[ok], self.automaton_.start])
        return out

    def candidate(self, name: str) -> Candidate:
        return Candidate(name, self.log_prob(name), name in self.known_)

    # -- generation ------------------------------------------------------------------------------
    def sample(self, size: int, rng: np.random.Generator, temperature: float = 1.0) -> list[str]:
        """``size`` i.i.d. names (repeats and corpus names included). ``temperature`` < 1 sharpens every
        next-character distribution (p ** (1 / T), renormalised) while the lengths keep the corpus'
        prior: the reservoir may sample more typical names; 1 is the model itself."""
        automaton, tail = self._tempered(temperature)
        lengths = self.length_prior_.sample(size, rng)
        out: list[str] = []
        for length, count in zip(*np.unique(lengths, return_counts=True)):
            ids = sample_fixed_length(automaton, tail, int(length), int(count), rng)
            out.extend(automaton.alphabet.decode_rows(ids))
        rng.shuffle(out)
        return out

    def _tempered(self, temperature: float):
        """The automaton (and its length tail) with every row raised to 1 / ``temperature``."""
        if temperature == 1.0:
            return self.automaton_, self.tail_
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, not {temperature}")
        probs = self.automaton_.probs ** (1.0 / temperature)  # zero rows (unreachable states) stay zero
        sums = probs.sum(axis=1, keepdims=True)
        probs = np.divide(probs, sums, out=np.zeros_like(probs), where=sums > 0)
        automaton = replace(self.automaton_, probs=probs)
        return automaton, automaton.length_tail(self.max_len)

    def generate(
        self, n: int, rng: np.random.Generator, include_known: bool = False, walk: bool = False
    ) -> list[Candidate]:
        """n distinct names; ``walk`` uses the LM's plain forward walk (markovify) when it has one."""
        if walk and not hasattr(self.lm, "walk"):
            raise ValueError("this model has no plain forward walk; only markov models do")
        draw = (lambda k: self.lm.walk(k, rng, self.max_len)) if walk else (lambda k: self.sample(k, rng))
        return self._distinct(draw, n, include_known)

    # -- completion ------------------------------------------------------------------------------
    def complete(
        self, pattern: str, n: int, rng: np.random.Generator, include_known: bool = True, budget: int | None = None
    ) -> list[Candidate]:
        """Up to n distinct fillings of ``pattern`` drawn from their exact posterior, most likely first;
        PatternTooCostly past ``budget`` (see ``forward_filter``)."""
        ids = encode_pattern(normalise_pattern(pattern), self.automaton_, self.corpus)
        lattice = forward_filter(self.automaton_, ids, budget)  # raises ImpossiblePattern, PatternTooCostly
        if hasattr(self.lm, "complete_ids"):

            def draw(k: int) -> list[str]:
                return [self.automaton_.decode(r) for r in self.lm.complete_ids(ids, k, rng)]
        else:

            def draw(k: int) -> list[str]:
                return [self.automaton_.decode(r) for r in backward_sample(lattice, k, rng)]

        found = self._distinct(draw, n, include_known)
        return sorted(found, key=lambda c: -c.log_prob)

    def marginals(self, pattern: str) -> np.ndarray:
        """P(symbol at each position | pattern), shape (len(pattern), n_symbols); column 0 is unused."""
        ids = encode_pattern(normalise_pattern(pattern), self.automaton_, self.corpus)
        return marginals(forward_filter(self.automaton_, ids), self.automaton_.n_symbols)

    def _distinct(self, draw, n: int, include_known: bool) -> list[Candidate]:
        found: dict[str, None] = {}  # insertion-ordered set
        batch = max(2 * n, 16)
        for _ in range(MAX_ROUNDS):
            drawn = draw(batch)
            known = self.known_.mask(drawn)
            for name, is_known in zip(drawn, known):
                if name not in found and (include_known or not is_known):
                    found[name] = None
                    if len(found) == n:
                        break
            if len(found) == n:
                break
            batch = min(2 * batch, 4096)
        names = list(found)
        return [
            Candidate(name, float(lp), bool(is_known))
            for name, lp, is_known in zip(names, self.log_probs(names), self.known_.mask(names))
        ]
