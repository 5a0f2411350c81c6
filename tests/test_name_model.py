"""What a user relies on: n new names, completions that fit, clear errors for impossible requests."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ImpossiblePattern, InvalidPattern
from corpora import load_corpus
from models.kneser_ney import KneserNeyLM
from models.markov import MarkovifyLM
from models.name_model import NameModel

POKEMON = load_corpus("pokemon")
KN = NameModel(KneserNeyLM(4), "pokemon").fit(POKEMON)
MARKOV = NameModel(MarkovifyLM(3), "pokemon").fit(POKEMON)


def matches(name: str, pattern: str) -> bool:
    return len(name) == len(pattern) and all(p in ("*", c) for p, c in zip(pattern, name))


def test_generate_gives_n_distinct_new_names(rng):
    found = KN.generate(20, rng)
    names = [c.name for c in found]
    assert len(names) == 20 == len(set(names))
    assert not any(c.known for c in found) and not set(names) & set(POKEMON)
    assert all(0 < len(n) <= 32 for n in names)


def test_known_names_are_marked_when_allowed(rng):
    found = MARKOV.generate(20, rng, include_known=True)
    assert any(c.known for c in found)  # an order-3 chain on 1,025 names copies some
    assert all(c.known == (c.name in POKEMON) for c in found)


def test_generation_is_reproducible_with_a_seed():
    first = [c.name for c in KN.generate(5, np.random.default_rng(7))]
    assert first == [c.name for c in KN.generate(5, np.random.default_rng(7))]


def test_a_lower_temperature_samples_likelier_names_of_the_same_lengths():
    plain, cold = (KN.sample(3000, np.random.default_rng(3), temperature=t) for t in (1.0, 0.5))
    assert plain == KN.sample(3000, np.random.default_rng(3))  # temperature 1 is the model itself
    per_char = [np.mean(KN.log_probs(names) / np.array([len(n) + 1 for n in names])) for names in (plain, cold)]
    assert per_char[1] > per_char[0] + 0.3  # sharper next-letter choices: likelier names
    assert abs(np.mean([len(n) for n in cold]) - np.mean([len(n) for n in plain])) < 0.3  # lengths: the prior's
    assert all(0 < len(n) <= KN.max_len for n in cold)
    with pytest.raises(ValueError):
        KN.sample(1, np.random.default_rng(0), temperature=0)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcdeilmnoprstu*", min_size=1, max_size=12).filter(lambda p: "*" in p), st.integers(0, 2**32))
def test_every_completion_satisfies_its_pattern(pattern, seed):
    found = KN.complete(pattern, 5, np.random.default_rng(seed))
    assert found, pattern  # smoothing: every pattern over known letters has some completion
    assert all(matches(c.name, pattern) for c in found)
    assert [c.log_prob for c in found] == sorted((c.log_prob for c in found), reverse=True)


def test_known_letters_late_in_the_pattern_shape_early_ones(rng):
    """'***base' must favour fillings that lead into 'base', not what a forward walk likes."""
    found = KN.complete("**chu", 10, rng)
    assert found[0].name == "pichu" and found[0].known


def test_completion_of_a_real_name_marks_it(rng):
    found = KN.complete("pikach*", 3, rng)
    assert found[0].name == "pikachu" and found[0].known


def test_markovify_walk_is_the_plain_forward_walk():
    names = [c.name for c in MARKOV.generate(10, np.random.default_rng(1), walk=True)]
    again = [c.name for c in MARKOV.generate(10, np.random.default_rng(1), walk=True)]
    assert names == again and len(set(names)) == 10
    with pytest.raises(ValueError, match="plain forward walk"):
        KN.generate(3, np.random.default_rng(1), walk=True)


@pytest.mark.parametrize(
    ("pattern", "error", "says"),
    [
        ("qx*a", ImpossiblePattern, "No name matches 'qx\\*a'"),  # unsmoothed: no 'qx' in Pokemon
        ("ab#*", ImpossiblePattern, "contains '#'"),
        ("", InvalidPattern, "empty"),
        ("*" * 33, InvalidPattern, "limit is 32"),
    ],
)
def test_impossible_and_invalid_patterns_say_why(pattern, error, says, rng):
    with pytest.raises(error, match=says):
        MARKOV.complete(pattern, 5, rng)


def test_odd_unicode_in_patterns_is_normalised(rng):
    """Upper case, composed accents and zero-width characters do not make a pattern impossible."""
    found = KN.complete("PI\u200bKA*H*", 3, rng)
    assert all(matches(c.name, "pika*h*") for c in found)


def test_a_pattern_with_few_completions_returns_fewer_not_forever(rng):
    tiny = NameModel(MarkovifyLM(1), "t").fit(["ab", "ba"])
    found = tiny.complete("a*", 10, rng)
    assert [c.name for c in found] == ["ab"]


def test_batch_log_probs_equal_one_at_a_time(tiny):
    from models.kneser_ney import KneserNeyLM
    from models.name_model import NameModel

    model = NameModel(KneserNeyLM(2), "tiny").fit(tiny)
    words = ["abc", "a", "", "cab", "abx", "ccccccccc", "b" * 40, "aab", "zz"]  # unknown letters, empty, too long
    batch = model.log_probs(words)
    single = [model.log_prob(w) for w in words]
    assert np.allclose(batch, single, equal_nan=False) and np.isinf(batch[[2, 4, 6, 8]]).all()
    assert np.allclose(model.automaton_.log_probs(words[:2]), [model.automaton_.log_prob(w) for w in words[:2]])


def test_rows_decoded_at_once_are_each_rows_own_name(rng):
    alphabet = KN.automaton_.alphabet
    ids = rng.integers(1, alphabet.n_symbols, size=(50, 7))
    assert alphabet.decode_rows(ids) == [alphabet.decode(row) for row in ids]
    assert alphabet.decode_rows(ids[:, :0]) == [""] * 50
