"""The fast models against naive oracles: Kneser-Ney by dictionary, markovify by its own counts."""

import itertools

import numpy as np
import pytest

from corpora import load_corpus
from models.alphabet import Alphabet
from models.automaton import ContextAutomaton
from models.kneser_ney import KneserNeyLM, chen_goodman_discounts
from models.markov import MarkovifyLM
from testkit.names import NAMES
from tests.kn_reference import ReferenceKN

DISCOUNTS = [[0.6, 1.1, 1.4]] * 6


def all_strings(alphabet: str, max_len: int):
    for length in range(max_len + 1):
        for chars in itertools.product(alphabet, repeat=length):
            yield "".join(chars)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_matches_reference_for_every_history(tiny, order):
    model = KneserNeyLM(order, discounts=DISCOUNTS).fit(tiny)
    ref = ReferenceKN(tiny, order, DISCOUNTS)
    a = model.automaton_
    for history in all_strings("abc", 5):
        state = a.start
        for ch in history:
            state = a.next_state[state, a.alphabet.id(ch)]
        for sym_id, sym in enumerate(["$"] + list(a.alphabet)):
            expected = ref.prob(("^" + history)[-order:], sym)
            assert a.probs[state, sym_id] == pytest.approx(expected, abs=1e-12), (history, sym)


@pytest.mark.parametrize("order", [1, 3, 5])
def test_every_state_is_a_distribution(order):
    words = load_corpus("pokemon")
    a = KneserNeyLM(order).fit(words).automaton_
    np.testing.assert_allclose(a.probs.sum(axis=1), 1.0, atol=1e-12)
    assert (a.probs > 0).all()  # smoothing: no character is ever impossible


def test_names_sum_to_one(tiny):
    """Enumeration agrees with the length table, and all lengths together hold all the mass."""
    a = KneserNeyLM(2, discounts=DISCOUNTS).fit(tiny).automaton_
    tail = a.length_tail(40)
    by_enumeration = sum(np.exp(a.log_prob(w)) for w in all_strings("abc", 6))
    assert by_enumeration == pytest.approx(tail[:7, a.start].sum(), rel=1e-12)
    assert tail[:, a.start].sum() == pytest.approx(1.0, abs=1e-3)


def test_length_tail_is_the_probability_of_each_length(tiny):
    a = KneserNeyLM(3, discounts=DISCOUNTS).fit(tiny).automaton_
    tail = a.length_tail(5)
    for length in range(6):
        exact = sum(np.exp(a.log_prob("".join(w))) for w in itertools.product("abc", repeat=length))
        assert tail[length, a.start] == pytest.approx(exact, rel=1e-12)


def test_chen_goodman_discounts_by_hand():
    counts = np.array([1] * 10 + [2] * 4 + [3] * 3 + [4] * 2)
    y = 10 / (10 + 8)
    expected = [1 - 2 * y * 4 / 10, 2 - 3 * y * 3 / 4, 3 - 4 * y * 2 / 3]
    np.testing.assert_allclose(chen_goodman_discounts(counts), expected)


def test_kneser_ney_beats_lower_orders_on_held_out_names():
    """On real data a longer history must help: the smoothing, not just the counting, works."""
    words = NAMES.read_text().split()
    rng = np.random.default_rng(0)
    rng.shuffle(words)
    train, test = words[:20000], words[20000:24000]
    nll = {}
    for k in (1, 2, 4):
        a = KneserNeyLM(k).fit(train).automaton_
        nll[k] = -sum(a.log_prob(w) for w in test) / sum(len(w) + 1 for w in test)
    assert nll[1] > nll[2] > nll[4]
    assert nll[4] < 2.10  # published counted bigram: 2.45; our 5-gram KN is about 1.99 on the full split


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markovify_automaton_is_its_maximum_likelihood_chain(tiny, order):
    lm = MarkovifyLM(order).fit(tiny)
    a = lm.automaton_
    for state, nexts in lm.chain_.model.items():
        ctx = ("^" if "___BEGIN__" in state else "") + "".join(t for t in state if t != "___BEGIN__")
        row = a.probs[list(a.contexts).index(ctx)]
        total = sum(nexts.values())
        for token, count in nexts.items():
            sym = 0 if token == "___END__" else a.alphabet.id(token)
            assert row[sym] == pytest.approx(count / total)
    for w in tiny:  # every training name is possible; names with unseen transitions are not
        assert np.isfinite(a.log_prob(w))
    if order >= 2:
        assert a.log_prob("cccc") == float("-inf")


def test_from_rows_falls_back_to_the_longest_seen_suffix():
    rows = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]])
    a = ContextAutomaton.from_rows(Alphabet("ab"), ["", "^", "a", "ba"], rows)
    state = lambda ctx: list(a.contexts).index(ctx)  # noqa: E731
    assert a.next_state[state("^"), 1] == state("a")  # "^a" unseen -> "a"
    assert a.next_state[state("a"), 2] == state("b")  # "ab" unseen -> "b" (added: the prefix of "ba")
    assert (a.probs[state("b")] == 0).all()  # added contexts carry no probability of their own
    assert a.next_state[state("b"), 1] == state("ba")
    assert a.next_state[state("ba"), 1] == state("a")  # "baa" -> "aa" unseen -> "a"
