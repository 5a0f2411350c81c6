"""Exact sampling from a ContextAutomaton: fixed length, and patterns with known characters.

Generation of length L draws each character from P(c | state) times the probability of finishing in
exactly the remaining characters (the automaton's length tail), which is exact conditioning rather
than rejection. Completion runs forward filtering over the automaton states consistent with the pattern,
then backward sampling, so characters known late in the pattern inform the unknowns before them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ImpossiblePattern, PatternTooCostly
from models.alphabet import END
from models.automaton import ContextAutomaton


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
    """The transitions kept at one pattern position (unsorted: sorting them all is the slow part)."""

    src: np.ndarray  # index into the previous step's states
    symbol: np.ndarray
    dst: np.ndarray  # automaton state reached
    prob: np.ndarray  # P(symbol | src state)
    weight: np.ndarray  # alpha(src) * prob, alpha normalised per step


@dataclass
class Lattice:
    """Forward messages over the automaton states consistent with a pattern."""

    n_states: int
    steps: list[_Step]
    states: list[np.ndarray]  # states[t]: sorted automaton states alive after t symbols
    alpha: list[np.ndarray]
    end_prob: np.ndarray  # P(end | final state)
    end_weight: np.ndarray  # alpha(final state) * P(end | final state)
    log_evidence: float  # log P(pattern matched, then the end) under the model


def forward_filter(automaton: ContextAutomaton, pattern: np.ndarray, budget: int | None = None) -> Lattice:
    """Alpha messages for a pattern of symbol ids (-1 = unknown). Raises if nothing matches.

    ``budget``: the most transitions (state x symbol) the filter may weigh, summed over the pattern's
    positions: the work grows with the unknown letters and the model's contexts (a long pattern of
    unknowns under a 5-gram model of a large corpus takes seconds), so a request over it is refused
    with PatternTooCostly before it takes a worker's time, rather than after."""
    n_states = len(automaton.contexts)
    all_symbols = np.arange(1, automaton.n_symbols)
    states, alpha = np.array([automaton.start]), np.array([1.0])
    steps, state_list, alphas, log_z, work = [], [states], [alpha], 0.0, 0
    for pos, sym in enumerate(pattern):
        work += len(states) * (len(all_symbols) if sym < 0 else 1)
        if budget is not None and work > budget:
            raise PatternTooCostly()
        if sym < 0:
            symbols, prob, nxt = all_symbols, automaton.probs[states, 1:], automaton.next_state[states, 1:]
        else:
            symbols = np.array([sym])
            prob, nxt = automaton.probs[states, sym, None], automaton.next_state[states, sym, None]
        possible = prob > 0
        if possible.all():  # smoothed models: skip the compaction, it is a third of the time
            keep_src = np.repeat(np.arange(len(states)), len(symbols))
            keep_sym = np.tile(np.arange(len(symbols)), len(states))
            prob, nxt = prob.ravel(), nxt.ravel()
        else:
            keep_src, keep_sym = np.nonzero(possible)
            if keep_src.size == 0:
                raise ImpossiblePattern(_impossible_message(automaton, pattern, pos))
            prob, nxt = prob[keep_src, keep_sym], nxt[keep_src, keep_sym]
        weight = alpha[keep_src] * prob
        states, alpha = _sum_by_state(nxt, weight, n_states)
        total = alpha.sum()
        log_z += np.log(total)
        alpha /= total
        steps.append(_Step(keep_src, symbols[keep_sym], nxt, prob, weight))
        state_list.append(states)
        alphas.append(alpha)
    end_prob = automaton.probs[states, END]
    end_weight = alpha * end_prob
    if not end_weight.sum() > 0:
        raise ImpossiblePattern(_impossible_message(automaton, pattern, len(pattern)))
    log_evidence = float(log_z + np.log(end_weight.sum()))
    return Lattice(n_states, steps, state_list, alphas, end_prob, end_weight, log_evidence)


def _sum_by_state(state: np.ndarray, weight: np.ndarray, n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct states, summed weight per state): sort few transitions, bin many."""
    if len(state) * 8 < n_states:
        order = np.argsort(state)
        ordered = state[order]
        first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        return ordered[first], np.add.reduceat(weight[order], first)
    dense = np.bincount(state, weights=weight, minlength=n_states)
    alive = np.flatnonzero(np.bincount(state, minlength=n_states))
    return alive, dense[alive]


def backward_sample(lattice: Lattice, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of the whole pattern from its exact posterior; returns symbol ids (size, L).

    Each step only sorts the transitions into the (at most ``size``) states the samples are in.
    """
    length = len(lattice.steps)
    out = np.empty((size, length), dtype=np.int64)
    p_end = lattice.end_weight / lattice.end_weight.sum()
    current = lattice.states[-1][rng.choice(len(p_end), size=size, p=p_end)]
    wanted = np.zeros(lattice.n_states, dtype=bool)
    for t in range(length - 1, -1, -1):
        step = lattice.steps[t]
        targets = np.unique(current)
        wanted[targets] = True
        sel = np.flatnonzero(wanted[step.dst])
        wanted[targets] = False
        sel = sel[np.argsort(step.dst[sel], kind="stable")]
        dst, weight = step.dst[sel], step.weight[sel]
        seg_start = np.searchsorted(dst, targets)
        seg_end = np.searchsorted(dst, targets, side="right")
        # Normalise each target's incoming weights to sum 1: then the cumulative sum climbs by
        # exactly 1 per target and target k owns the interval [k, k + 1).
        rank = np.searchsorted(targets, dst)
        cum = np.cumsum(weight / np.bincount(rank, weights=weight)[rank])
        k = np.searchsorted(targets, current)
        pick = np.searchsorted(cum, k + rng.random(size), side="right")
        pick = sel[np.clip(pick, seg_start[k], seg_end[k] - 1)]
        out[:, t] = step.symbol[pick]
        current = lattice.states[t][step.src[pick]]
    return out


def marginals(lattice: Lattice, n_symbols: int) -> np.ndarray:
    """Posterior P(symbol at position t | pattern) for every position: (L, n_symbols)."""
    out = np.zeros((len(lattice.steps), n_symbols))
    beta = lattice.end_prob
    for t in range(len(lattice.steps) - 1, -1, -1):
        step = lattice.steps[t]
        after = beta[np.searchsorted(lattice.states[t + 1], step.dst)]
        out[t] = np.bincount(step.symbol, weights=step.weight * after, minlength=n_symbols)
        out[t] /= out[t].sum()
        beta = np.bincount(step.src, weights=step.prob * after, minlength=len(lattice.states[t]))
    return out


def _impossible_message(automaton: ContextAutomaton, pattern: np.ndarray, pos: int) -> str:
    shown = automaton.alphabet.decode(pattern)
    if pos == len(pattern):
        return f"No name can end the way '{shown}' does under this model. Try adding a * at the end."
    return (
        f"No name matches '{shown}': nothing this model has seen can put "
        f"{'*' if pattern[pos] < 0 else repr(automaton.alphabet.char(pattern[pos]))} at position {pos + 1}. "
        "Try more * or other letters."
    )
