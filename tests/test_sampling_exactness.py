"""Samplers against brute-force enumeration of the exact conditional distributions."""

import itertools

import numpy as np
import pytest

from models.kneser_ney import KneserNeyLM
from models.markov import MarkovifyLM
from models.name_model import NameModel
from models.pattern import encode_pattern
from models.sampling import backward_sample, forward_filter, marginals, sample_fixed_length
from tests.conftest import assert_same_distribution
from tests.kn_reference import ReferenceKN

DISCOUNTS = [[0.6, 1.1, 1.4]] * 6
N = 20000
PATTERNS = ["**a*", "*b**", "a***", "***c", "*a*b*", "****"]  # unknowns at both ends and in the middle


def exact_posterior(ref: ReferenceKN, pattern: str) -> dict[str, float]:
    """P(filling | pattern) by enumerating every filling and scoring it with the naive oracle."""
    holes = [i for i, ch in enumerate(pattern) if ch == "*"]
    weights = {}
    for fill in itertools.product(ref.alphabet, repeat=len(holes)):
        chars = list(pattern)
        for i, ch in zip(holes, fill):
            chars[i] = ch
        weights["".join(chars)] = ref.word_prob("".join(chars))
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_completion_samples_follow_the_exact_posterior(tiny, rng, order, pattern):
    a = KneserNeyLM(order, discounts=DISCOUNTS).fit(tiny).automaton_
    lattice = forward_filter(a, encode_pattern(pattern, a))
    samples = [a.decode(row) for row in backward_sample(lattice, N, rng)]
    assert_same_distribution(samples, exact_posterior(ReferenceKN(tiny, order, DISCOUNTS), pattern))


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("pattern", ["*b*a", "c***b"])
def test_completion_marginals_are_exact(tiny, order, pattern):
    a = KneserNeyLM(order, discounts=DISCOUNTS).fit(tiny).automaton_
    exact = exact_posterior(ReferenceKN(tiny, order, DISCOUNTS), pattern)
    got = marginals(forward_filter(a, encode_pattern(pattern, a)), a.n_symbols)
    for pos in range(len(pattern)):
        for sym, ch in enumerate(a.alphabet, start=1):
            expected = sum(p for name, p in exact.items() if name[pos] == ch)
            assert got[pos, sym] == pytest.approx(expected, abs=1e-12)


def test_the_exactness_test_has_power(tiny, rng):
    """A left-to-right sampler that ignores later known letters must fail the same check."""
    order, pattern = 2, "*a*b*"
    a = KneserNeyLM(order, discounts=DISCOUNTS).fit(tiny).automaton_
    ids = encode_pattern(pattern, a)
    samples = []
    for _ in range(N):
        state, out = a.start, []
        for sym in ids:
            if sym < 0:
                p = a.probs[state, 1:] / a.probs[state, 1:].sum()
                sym = rng.choice(len(p), p=p) + 1
            out.append(sym)
            state = a.next_state[state, sym]
        samples.append(a.decode(out))
    with pytest.raises(AssertionError, match="chi-square|total variation"):
        assert_same_distribution(samples, exact_posterior(ReferenceKN(tiny, order, DISCOUNTS), pattern))


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("length", [1, 3, 4])
def test_fixed_length_generation_is_exact(tiny, rng, order, length):
    a = KneserNeyLM(order, discounts=DISCOUNTS).fit(tiny).automaton_
    ids = sample_fixed_length(a, a.length_tail(length), length, N, rng)
    assert ids.shape == (N, length) and (ids > 0).all()  # exactly `length` letters, never the end
    assert_same_distribution(
        [a.decode(r) for r in ids], exact_posterior(ReferenceKN(tiny, order, DISCOUNTS), "*" * length)
    )


def test_length_prior_is_honoured(tiny, rng):
    model = NameModel(KneserNeyLM(2, discounts=DISCOUNTS), max_len=6).fit(tiny)
    names = model.sample(N, rng)
    prior = model.length_prior_.probs_
    assert_same_distribution([str(len(n)) for n in names], {str(k): prior[k] for k in range(1, 7)})


def test_unsmoothed_chain_only_draws_lengths_it_can_make(rng):
    """markovify's chain cannot make every length; the prior is restricted, never silently cut."""
    model = NameModel(MarkovifyLM(2), max_len=10).fit(["abcd", "abcdef", "xyz"])
    feasible = model.tail_[:, model.automaton_.start] > 0
    assert set(np.flatnonzero(model.length_prior_.probs_)) <= set(np.flatnonzero(feasible))
    names = model.sample(2000, rng)
    assert set(names) <= {"abcd", "abcdef", "xyz"}


def test_joint_log_prob_sums_to_one(tiny):
    """With the length prior, P(name) over every name of 1..4 letters sums to exactly 1."""
    model = NameModel(KneserNeyLM(2, discounts=DISCOUNTS), max_len=4).fit(tiny)
    total = sum(np.exp(model.log_prob("".join(w))) for k in range(1, 5) for w in itertools.product("abc", repeat=k))
    assert total == pytest.approx(1.0, abs=1e-12)
