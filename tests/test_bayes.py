"""pomegranate (the optional [bayes] extra) as a cross-check of the exact order-1 sampler."""

import os

import numpy as np
import pytest

from corpora import load_corpus
from models.markov import MarkovifyLM
from models.name_model import NameModel
from models.pattern import encode_pattern
from tests.conftest import assert_same_distribution
from tests.test_sampling_exactness import exact_posterior

if os.environ.get("TNAAS_REQUIRE_BAYES"):
    import pomegranate  # noqa: F401  (CI installs the extra: a missing one must fail, not skip)
else:
    pytest.importorskip("pomegranate")

from models.bayes import PomegranateLM

pytestmark = pytest.mark.bayes
POKEMON = load_corpus("pokemon")


@pytest.fixture(scope="module")
def bayes() -> NameModel:
    return NameModel(PomegranateLM(), "pokemon").fit(POKEMON)


def test_pomegranate_fits_the_maximum_likelihood_bigram_chain(bayes):
    mle = MarkovifyLM(1).fit(POKEMON).automaton_
    np.testing.assert_allclose(bayes.automaton_.probs, mle.probs, atol=1e-6)


@pytest.mark.parametrize("pattern", ["*u*a", "pi*a***", "***base", "**", "s**r*a*"])
def test_pomegranate_marginals_equal_the_exact_sampler(bayes, pattern):
    ids = encode_pattern(pattern, bayes.automaton_)
    bn = bayes.lm.predict_marginals(ids)[0]
    exact = bayes.marginals(pattern)
    np.testing.assert_allclose(bn[:, 1:], exact[:, 1:], atol=1e-6)


def test_pomegranate_completion_samples_the_exact_posterior(tiny, rng):
    model = NameModel(PomegranateLM(), "tiny").fit(tiny)
    pattern = "*a**"
    samples = [
        model.automaton_.decode(r) for r in model.lm.complete_ids(encode_pattern(pattern, model.automaton_), 4000, rng)
    ]

    class Oracle:  # the MLE bigram chain, scored directly
        alphabet = model.automaton_.alphabet

        @staticmethod
        def word_prob(word):
            return float(np.exp(model.automaton_.log_prob(word)))

    exact = {k: v for k, v in exact_posterior(Oracle, pattern).items() if v > 0}
    assert_same_distribution(samples, exact)


def test_bayes_is_selectable_for_completion(bayes, rng):
    found = bayes.complete("*u*a", 5, rng)
    assert len(found) == 5 and all(len(c.name) == 4 and c.name[1] == "u" and c.name[3] == "a" for c in found)
