"""Exact sampling from a ContextAutomaton: fixed length, and patterns with known characters.

Generation of length L draws each character from P(c | state) times the probability of finishing in
exactly the remaining characters (the automaton's length tail), which is exact conditioning rather
than rejection. Completion runs forward filtering over the automaton states consistent with the pattern,
then backward sampling, so characters known late in the pattern inform the unknowns before them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.automaton import END, ContextAutomaton
from tnaas.errors import ImpossiblePattern


def _draw_rows(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row, with probability proportional to that row's weights."""
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def sample_fixed_length(
    automaton: ContextAutomaton, tail: np.ndarray, length: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` names of exactly ``length`` characters from P(name | its length is ``length``)."""
    states = np.full(size, automaton.start)
    out = np.empty((size, length), dtype=np.int64)
    p, nxt = automaton.probs[:, 1:], automaton.next_state[:, 1:]
    for pos in range(length):
        remaining = length - pos - 1
        weights = p[states] * tail[remaining][nxt[states]]
        choice = _draw_rows(weights, rng)
        out[:, pos] = choice + 1
        states = nxt[states, choice]
    return out


@dataclass
class _Step:
    """Transitions kept at one pattern position, sorted by destination for backward sampling."""

    src: np.ndarray  # index into the previous step's states
    symbol: np.ndarray
    dst: np.ndarray  # index into this step's states
    prob: np.ndarray  # P(symbol | src state)
    weight: np.ndarray  # alpha(src) * prob, alpha normalised per step
    seg_start: np.ndarray  # first transition of each destination


@dataclass
class Lattice:
    """Forward messages over the automaton states consistent with a pattern."""

    steps: list[_Step]
    states: list[np.ndarray]  # states[t]: automaton states alive after t symbols
    alpha: list[np.ndarray]
    end_prob: np.ndarray  # P(end | final state)
    end_weight: np.ndarray  # alpha(final state) * P(end | final state)
    log_evidence: float  # log P(pattern matched, then the end) under the model


def forward_filter(automaton: ContextAutomaton, pattern: np.ndarray) -> Lattice:
    """Alpha messages for a pattern of symbol ids (-1 = unknown). Raises if nothing matches."""
    all_symbols = np.arange(1, automaton.n_symbols)
    states, alpha = np.array([automaton.start]), np.array([1.0])
    steps, state_list, alphas, log_z = [], [states], [alpha], 0.0
    for pos, sym in enumerate(pattern):
        symbols = all_symbols if sym < 0 else np.array([sym])
        prob = automaton.probs[states][:, symbols]
        keep_src, keep_sym = np.nonzero(prob > 0)
        if keep_src.size == 0:
            raise ImpossiblePattern(_impossible_message(automaton, pattern, pos))
        prob = prob[keep_src, keep_sym]
        nxt = automaton.next_state[states[keep_src], symbols[keep_sym]]
        weight = alpha[keep_src] * prob
        order = np.argsort(nxt, kind="stable")
        keep_src, keep_sym, nxt, prob, weight = keep_src[order], keep_sym[order], nxt[order], prob[order], weight[order]
        uniq, seg_start, dst = np.unique(nxt, return_index=True, return_inverse=True)
        new_alpha = np.bincount(dst, weights=weight)
        total = new_alpha.sum()
        log_z += np.log(total)
        steps.append(_Step(keep_src, symbols[keep_sym], dst, prob, weight, seg_start))
        states, alpha = uniq, new_alpha / total
        state_list.append(states)
        alphas.append(alpha)
    end_prob = automaton.probs[states, END]
    end_weight = alpha * end_prob
    if not end_weight.sum() > 0:
        raise ImpossiblePattern(_impossible_message(automaton, pattern, len(pattern)))
    return Lattice(steps, state_list, alphas, end_prob, end_weight, float(log_z + np.log(end_weight.sum())))


def backward_sample(lattice: Lattice, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of the whole pattern from its exact posterior; returns symbol ids (size, L)."""
    length = len(lattice.steps)
    out = np.empty((size, length), dtype=np.int64)
    p_end = lattice.end_weight / lattice.end_weight.sum()
    current = rng.choice(len(p_end), size=size, p=p_end)
    for t in range(length - 1, -1, -1):
        step = lattice.steps[t]
        # Normalise each destination's incoming weights to sum 1: then the cumulative sum climbs by
        # exactly 1 per destination and destination d owns the interval [d, d + 1).
        seg_total = np.bincount(step.dst, weights=step.weight)
        cum = np.cumsum(step.weight / seg_total[step.dst])
        seg_end = np.append(step.seg_start[1:], len(step.dst))
        pick = np.searchsorted(cum, current + rng.random(size), side="right")
        pick = np.clip(pick, step.seg_start[current], seg_end[current] - 1)
        out[:, t] = step.symbol[pick]
        current = step.src[pick]
    return out


def marginals(lattice: Lattice, n_symbols: int) -> np.ndarray:
    """Posterior P(symbol at position t | pattern) for every position: (L, n_symbols)."""
    out = np.zeros((len(lattice.steps), n_symbols))
    beta = lattice.end_prob
    for t in range(len(lattice.steps) - 1, -1, -1):
        step = lattice.steps[t]
        flow = step.weight * beta[step.dst]
        out[t] = np.bincount(step.symbol, weights=flow, minlength=n_symbols)
        out[t] /= out[t].sum()
        beta = np.bincount(step.src, weights=step.prob * beta[step.dst], minlength=len(lattice.states[t]))
    return out


def _impossible_message(automaton: ContextAutomaton, pattern: np.ndarray, pos: int) -> str:
    shown = "".join("*" if s < 0 else automaton.alphabet[s - 1] for s in pattern)
    if pos == len(pattern):
        return f"No name can end the way '{shown}' does under this model. Try adding a * at the end."
    return (
        f"No name matches '{shown}': nothing this model has seen can put "
        f"{'*' if pattern[pos] < 0 else repr(automaton.alphabet[pattern[pos] - 1])} at position {pos + 1}. "
        "Try more * or other letters."
    )
