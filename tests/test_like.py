"""The like-walk's moves against brute-force conditionals, and what `like` promises a user."""

import itertools

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from core.errors import InvalidSeed
from corpora import load_corpus
from models.kneser_ney import KneserNeyLM
from models.like import (
    DEL,
    INS,
    SUB,
    deletion_probs,
    insertion_probs,
    like,
    move_kind_probs,
    step,
    substitution_probs,
)
from models.markov import MarkovifyLM
from models.name_model import NameModel
from models.pattern import encode_pattern
from models.sampling import forward_filter, marginals
from tests.conftest import assert_same_distribution
from tests.kn_reference import ReferenceKN

DISCOUNTS = [[0.6, 1.1, 1.4]] * 6
NAMES = ["abca", "cab", "bbac", "a"]


def tiny_model(tiny, order: int) -> tuple[NameModel, ReferenceKN]:
    model = NameModel(KneserNeyLM(order, discounts=DISCOUNTS), max_len=7).fit(tiny)
    return model, ReferenceKN(tiny, order, DISCOUNTS)


def padded(model: NameModel, name: str, width: int = 8) -> tuple[np.ndarray, np.ndarray]:
    ids = np.zeros((1, width), dtype=np.int64)
    ids[0, : len(name)] = model.automaton_.encode(name)
    return ids, np.array([len(name)])


def normalised(weights: dict) -> dict:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_substitution_is_the_exact_conditional_of_one_unknown(tiny, order, name):
    model, ref = tiny_model(tiny, order)
    alphabet = model.automaton_.alphabet
    for pos in range(len(name)):
        got = substitution_probs(model, *padded(model, name), np.array([pos]))[0]
        brute = normalised({c: ref.word_prob(name[:pos] + c + name[pos + 1 :]) for c in alphabet if c != name[pos]})
        pattern = name[:pos] + "*" + name[pos + 1 :]
        posterior = marginals(
            forward_filter(model.automaton_, encode_pattern(pattern, model.automaton_)), model.automaton_.n_symbols
        )[pos, 1:]
        completion = normalised({c: posterior[i] for i, c in enumerate(alphabet) if c != name[pos]})
        for i, c in enumerate(alphabet):
            assert got[i] == pytest.approx(brute.get(c, 0.0), abs=1e-12)
            assert got[i] == pytest.approx(completion.get(c, 0.0), abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_insertion_is_the_exact_conditional_of_the_new_letter(tiny, order, name):
    model, ref = tiny_model(tiny, order)
    for slot in range(len(name) + 1):
        got = insertion_probs(model, *padded(model, name), np.array([slot]))[0]
        brute = normalised({c: ref.word_prob(name[:slot] + c + name[slot:]) for c in model.automaton_.alphabet})
        assert got == pytest.approx([brute[c] for c in model.automaton_.alphabet], abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("name", ["abca", "cab", "bbac"])
def test_deletion_follows_the_probability_of_what_is_left(tiny, order, name):
    model, ref = tiny_model(tiny, order)
    got = deletion_probs(model, *padded(model, name))[0]
    brute = normalised({j: ref.word_prob(name[:j] + name[j + 1 :]) for j in range(len(name))})
    assert got[: len(name)] == pytest.approx([brute[j] for j in range(len(name))], abs=1e-12)
    assert (got[len(name) :] == 0).all()


def test_move_kinds_follow_the_length_prior_and_its_limits(tiny):
    model, _ = tiny_model(tiny, 2)
    p = model.length_prior_.probs_
    got = move_kind_probs(model, np.array([1, 3, model.max_len]))
    assert got[0] == pytest.approx(np.array([p[1], p[2], 0.0]) / (p[1] + p[2]))  # nothing to delete from 1 letter
    assert got[1] == pytest.approx(np.array([p[3], p[4], p[2]]) / (p[3] + p[4] + p[2]))
    assert got[2, INS] == 0.0  # never longer than the model allows


def exact_step(model: NameModel, ref: ReferenceKN, name: str) -> dict[str, float]:
    """P(name after one step) by enumerating every move with the naive oracle."""
    p = model.length_prior_.probs_
    L, alphabet = len(name), model.automaton_.alphabet
    kinds = normalised({SUB: p[L], INS: p[L + 1] if model.max_len > L else 0.0, DEL: p[L - 1] if L > 1 else 0.0})
    out: dict[str, float] = {}
    for pos in range(L):
        cond = normalised({c: ref.word_prob(name[:pos] + c + name[pos + 1 :]) for c in alphabet if c != name[pos]})
        for c, q in cond.items():
            key = name[:pos] + c + name[pos + 1 :]
            out[key] = out.get(key, 0.0) + kinds[SUB] / L * q
    for slot in range(L + 1):
        cond = normalised({c: ref.word_prob(name[:slot] + c + name[slot:]) for c in alphabet})
        for c, q in cond.items():
            key = name[:slot] + c + name[slot:]
            out[key] = out.get(key, 0.0) + kinds[INS] / (L + 1) * q
    if kinds[DEL]:
        cond = normalised({j: ref.word_prob(name[:j] + name[j + 1 :]) for j in range(L)})
        for j, q in cond.items():
            key = name[:j] + name[j + 1 :]
            out[key] = out.get(key, 0.0) + kinds[DEL] * q
    return out


def walk_once(model: NameModel, name: str, n: int, rng) -> list[str]:
    ids, lengths = padded(model, name)
    ids, lengths = step(model, np.repeat(ids, n, axis=0), np.repeat(lengths, n), rng)
    return [model.automaton_.decode(row[:k]) for row, k in zip(ids, lengths)]


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("name", ["abca", "ab"])
def test_one_step_of_the_walk_follows_its_exact_distribution(tiny, rng, order, name):
    model, ref = tiny_model(tiny, order)
    assert_same_distribution(walk_once(model, name, 20000, rng), exact_step(model, ref, name))


def test_the_step_test_has_power(tiny, rng):
    """A walk that picks substitute/insert/delete uniformly, ignoring the length prior, must fail it."""
    model, ref = tiny_model(tiny, 2)
    model.length_prior_.probs_ = np.r_[0.0, np.full(model.max_len, 1.0 / model.max_len)]
    samples = walk_once(model, "abca", 20000, rng)
    model.length_prior_.probs_ = (
        NameModel(KneserNeyLM(2, discounts=DISCOUNTS), max_len=7).fit(tiny).length_prior_.probs_
    )
    with pytest.raises(AssertionError, match="chi-square|total variation"):
        assert_same_distribution(samples, exact_step(model, ref, "abca"))


# -- what a user gets --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pokemon() -> NameModel:
    return NameModel(KneserNeyLM(3), "pokemon").fit(load_corpus("pokemon"))


@pytest.mark.parametrize("seed", ["pikachu", "hoopa", "kafka", "ab", "Snorlax "])
def test_like_gives_new_names_one_to_three_edits_away(pokemon, rng, seed):
    found = like(pokemon, seed, 30, rng)
    target = seed.strip().lower()
    assert len(found) == 30
    names = [v.name for v in found]
    assert len(set(names)) == len(names)
    assert target not in names and not set(names) & pokemon.known_
    for v in found:
        assert 1 <= v.edits <= 3 and v.edits == Levenshtein.distance(target, v.name)
        assert np.isfinite(v.log_prob) and v.log_prob == pytest.approx(pokemon.log_prob(v.name))
        assert pokemon.length_prior_.probs_[len(v.name)] > 0
    assert [v.nll_per_char for v in found] == sorted(v.nll_per_char for v in found)


def test_like_is_reproducible_with_a_seeded_rng(pokemon):
    first = like(pokemon, "mew", 10, np.random.default_rng(7))
    assert like(pokemon, "mew", 10, np.random.default_rng(7)) == first


def test_like_on_an_unsmoothed_chain_stays_within_what_it_can_make(rng):
    model = NameModel(MarkovifyLM(2), "tiny", max_len=10).fit(["abcd", "abcde", "bcda", "dabc", "cabd"])
    found = like(model, "abce", 10, rng)  # 'ce' never seen: the seed itself has probability 0
    assert all(np.isfinite(v.log_prob) for v in found)
    assert "abce" not in [v.name for v in found]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("", "Give a name"),
        ("   ", "Give a name"),
        ("k*fk*", "not a pattern"),
        ("x" * 40, "up to 32"),
        ("kafka!", "No pokemon name contains '!'"),
        ("kafka\u200b", None),
    ],
)
def test_bad_seeds_get_a_clear_message(pokemon, rng, seed, message):
    if message is None:  # an invisible character is dropped, as in patterns
        assert like(pokemon, seed, 3, rng)
        return
    with pytest.raises(InvalidSeed, match=message):
        like(pokemon, seed, 3, rng)


def test_every_walk_length_is_possible_for_a_one_letter_seed(pokemon, rng):
    found = like(pokemon, "a", 20, rng)
    assert found and all(1 <= len(v.name) <= 4 for v in found)


def test_one_edit_finds_every_substitution_and_deletion_and_nothing_else(tiny, rng):
    """Insertions are there too, but rare here: TINY has no name longer than 4, so p(5) is tiny."""
    model, _ = tiny_model(tiny, 2)
    found = {v.name for v in like(model, "abca", 2000, rng, max_edits=1)}
    alphabet = model.automaton_.alphabet
    changed = {"abca"[:i] + c + "abca"[i + 1 :] for i in range(4) for c in alphabet}
    changed |= {"abca"[:i] + "abca"[i + 1 :] for i in range(4)}
    grown = {"abca"[:i] + c + "abca"[i:] for i in range(5) for c in alphabet}
    excluded = {"abca"} | set(model.known_)
    assert changed - excluded <= found <= (changed | grown) - excluded


def test_like_never_returns_more_than_asked(tiny, rng):
    model, _ = tiny_model(tiny, 2)
    assert len(like(model, "abc", 5, rng)) == 5
    assert set(itertools.chain.from_iterable(v.name for v in like(model, "abc", 5, rng))) <= set("abc")


def test_like_on_the_command_line(trained_artifacts):
    import subprocess
    import sys

    from testkit.processes import tnaas_env

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "tnaas", "like", *args],
            capture_output=True,
            text=True,
            env=tnaas_env(trained_artifacts),
            timeout=120,
        )

    out = run("hoopa", "-c", "pokemon", "-m", "kn3", "-n", "6", "--seed", "1")
    assert out.returncode == 0, out.stderr
    lines = [ln.split() for ln in out.stdout.splitlines() if ln.strip()]
    assert [ln[0] for ln in lines] == [f"{i}." for i in range(1, 7)]
    assert all(ln[1] != "hoopa" and ln[2] in "123" for ln in lines)
    out = run("k*fka", "-c", "pokemon", "-m", "kn3")
    assert out.returncode == 2 and "not a pattern" in out.stderr and "Traceback" not in out.stderr
