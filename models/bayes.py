"""The talk's approach, kept as a selectable model: pomegranate for an order-1 chain.

pomegranate fits the chain (``MarkovChain(k=1)`` on names padded with the end symbol) and answers
completions with a ``BayesianNetwork`` over the pattern's positions. For order 1 the network is a
chain, so belief propagation is exact; sampling fixes one unknown at a time from its marginal.
It is ~1000x slower than the automaton and needs PyTorch (the ``[bayes]`` extra), so it is never
the default (its loopy belief propagation is off by up to 0.2 in marginals at orders 2-3). Import cost is paid only here.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.errors import ImpossiblePattern
from core.limits import MAX_NAME_LEN
from models.alphabet import BOS, END, Alphabet
from models.automaton import ContextAutomaton


def _torch():
    try:
        import torch
        from pomegranate.bayesian_network import BayesianNetwork
        from pomegranate.distributions import Categorical, ConditionalCategorical
        from pomegranate.markov_chain import MarkovChain
    except ImportError as err:  # the extra is optional
        raise RuntimeError("the bayes model needs the optional extra: pip install '.[bayes]'") from err
    return torch, BayesianNetwork, Categorical, ConditionalCategorical, MarkovChain


class PomegranateLM:
    """Order-1 character chain fitted by pomegranate; ``complete_ids`` samples with its inference."""

    order = 1

    def __init__(self, order: int = 1):
        if order != 1:
            raise ValueError("pomegranate inference is exact only for order 1")

    def fit(self, words: list[str]) -> PomegranateLM:
        torch, *_, MarkovChain = _torch()
        alphabet = Alphabet.of(words)
        width = min(max(map(len, words)), MAX_NAME_LEN) + 1
        x = np.full((len(words), width), END, dtype=np.int64)  # padded with the (absorbing) end
        for row, w in enumerate(words):
            x[row, : min(len(w), MAX_NAME_LEN)] = alphabet.encode(w[:MAX_NAME_LEN])
        chain = MarkovChain(k=1, n_categories=[alphabet.n_symbols]).fit(torch.from_numpy(x)[:, :, None])
        initial = chain.distributions[0].probs[0].detach().double().numpy()
        transition = chain.distributions[1].probs[0].detach().double().numpy()
        contexts = [BOS] + list(alphabet)
        rows = np.vstack([initial, transition[1:]])
        return self.set_automaton(ContextAutomaton.from_rows(alphabet, contexts, rows))

    def set_automaton(self, automaton: ContextAutomaton) -> PomegranateLM:
        self.automaton_ = automaton
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted chain as its automaton: the network is rebuilt from it per pattern length."""
        return self.automaton_.to_arrays()

    def from_arrays(self, arrays) -> PomegranateLM:
        return self.set_automaton(ContextAutomaton.from_arrays(arrays))

    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(first symbol), P(next | symbol) and P(end | symbol) read back from the automaton."""
        a = self.automaton_
        first = a.probs[a.start]
        trans = np.zeros((a.n_symbols, a.n_symbols))
        for sym in range(1, a.n_symbols):
            trans[sym] = a.probs[a.next_state[a.start, sym]]
        return first, trans, trans[:, END]

    def network(self, length: int):
        """A BayesianNetwork over positions 1..length plus one observed end node.

        Categories: the symbols (0 = end) plus DEAD. Stopping early moves mass to DEAD, which is
        absorbing and cannot produce the observed end, so the evidence conditions on length exactly.
        """
        torch, BayesianNetwork, Categorical, ConditionalCategorical, _ = _torch()
        first, trans, end = self._tables()
        v = len(first)
        dead = v
        n = v + 1

        def step(p_next: np.ndarray, end_to_dead: bool) -> np.ndarray:
            t = np.zeros((n, n))
            t[:v, :v] = p_next
            if end_to_dead:
                t[:v, dead] = t[:v, END]
                t[:v, END] = 0.0
            t[END] = 0.0
            t[END, dead] = 1.0
            t[dead] = 0.0
            t[dead, dead] = 1.0
            return t

        start = np.zeros(n)
        start[:v] = first
        start[dead], start[END] = first[END], 0.0
        final = np.zeros((n, n))  # the observed node after the last position: did the name stop?
        final[:v, END] = end
        final[:v, dead] = 1.0 - end
        final[END] = 0.0
        final[END, dead] = final[dead, dead] = 1.0
        dists = [Categorical(torch.tensor(start[None], dtype=torch.float64))]
        dists += [
            ConditionalCategorical([torch.tensor(step(trans, True), dtype=torch.float64)]) for _ in range(length - 1)
        ]
        dists.append(ConditionalCategorical([torch.tensor(final, dtype=torch.float64)]))
        edges = [(dists[i], dists[i + 1]) for i in range(length)]
        return BayesianNetwork(dists, edges)

    def predict_marginals(self, pattern: np.ndarray, evidence: np.ndarray | None = None) -> np.ndarray:
        """Per-position marginals (rows, L, n_symbols) from pomegranate's inference.

        ``evidence`` rows (-1 = unknown) default to the pattern itself.
        """
        torch, *_ = _torch()
        rows = np.atleast_2d(pattern if evidence is None else evidence)
        length = rows.shape[1]
        x = np.concatenate([np.where(rows < 0, 0, rows), np.full((len(rows), 1), END)], axis=1)
        mask = np.concatenate([rows >= 0, np.ones((len(rows), 1), bool)], axis=1)
        with warnings.catch_warnings():  # MaskedTensor warns on every call that it is a prototype
            warnings.simplefilter("ignore")
            masked = torch.masked.MaskedTensor(torch.from_numpy(x), mask=torch.from_numpy(mask))
            out = self.network(length).predict_proba(masked)
        probs = np.stack([t.detach().double().numpy()[:, : self.automaton_.n_symbols] for t in out[:length]], axis=1)
        if np.isnan(probs).any():
            raise ImpossiblePattern("No name matches this pattern under the bayes1 model.")
        return probs

    def complete_ids(self, pattern: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
        """Sample all rows at once, fixing one unknown per round from its current marginal."""
        rows = np.tile(pattern, (size, 1))
        for pos in np.flatnonzero(pattern < 0):
            probs = self.predict_marginals(pattern, rows)[:, pos]
            probs[:, END] = 0.0
            cdf = np.cumsum(probs, axis=1)
            u = rng.random(size) * cdf[:, -1]
            rows[:, pos] = np.minimum((cdf <= u[:, None]).sum(axis=1), probs.shape[1] - 1)
        return rows
