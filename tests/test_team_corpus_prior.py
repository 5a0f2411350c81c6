"""A team's list blended with the prior of many names: a distribution whatever the weight, the team's own
model at weight 1, stored in the team corpus' artifact with the prior's version, the prior fitted once."""

from __future__ import annotations

import numpy as np
import pytest

from corpora import load_corpus
from models import team_artifacts
from models.catalog import make_lm
from models.team_corpus import model_for_size, train_team_corpus
from models.team_prior import (
    PRIOR_CORPORA,
    PRIOR_MODEL,
    PRIOR_NAME,
    WEIGHT_BY_SIZE,
    TeamPrior,
    blend,
    fit_prior,
    prior_info,
    prior_words,
    team_prior,
    weight_for,
)

CATS = load_corpus("cats")
SMALL_PRIOR = fit_prior(load_corpus("pokemon") + load_corpus("superheroes"), "kn3")  # quick to fit


@pytest.fixture(scope="module")
def team():
    return make_lm("kn1").fit(CATS).automaton_


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.7, 1.0])
def test_every_row_of_the_blend_is_a_distribution_over_the_teams_letters(team, weight):
    blended = blend(team, SMALL_PRIOR).at(weight)
    assert blended.alphabet == team.alphabet  # never a letter the team did not use
    reachable = blended.probs.any(axis=1)
    np.testing.assert_allclose(blended.probs[reachable].sum(axis=1), 1.0)
    assert reachable[blended.start] and blended.probs.min() >= 0


def test_at_weight_one_the_blend_is_the_team_model(team):
    words = [*CATS, "tom", "zzzz", "nope!"]  # names it never saw, one with a letter it does not know
    np.testing.assert_allclose(blend(team, SMALL_PRIOR).at(1.0).log_probs(words), team.log_probs(words))
    with pytest.raises(ValueError):
        blend(team, SMALL_PRIOR).at(1.5)


def test_the_prior_teaches_a_small_list_the_spelling_of_names(team):
    """Names the team never listed but the prior knows become likelier; the team's own stay likelier
    than under the prior alone."""
    mixed = blend(team, SMALL_PRIOR)
    heroes = [w for w in load_corpus("superheroes")[:200] if set(w) <= set(team.alphabet.chars)]
    assert len(heroes) > 50
    assert mixed.at(0.5).log_probs(heroes).mean() > team.log_probs(heroes).mean()
    assert mixed.at(0.5).log_probs(CATS).mean() > mixed.at(0.0).log_probs(CATS).mean()


def test_a_blended_corpus_keeps_its_blend_and_its_priors_version_in_its_artifact(tmp_path):
    prior = TeamPrior(SMALL_PRIOR, "p1")
    trained = train_team_corpus("cats", CATS, prior=prior, weight=0.5)
    model, info, reservoir = team_artifacts.write_and_load(tmp_path, trained.model, trained.reservoir)
    assert info.model == model_for_size(len(CATS)) and info.params["prior"] == "p1"
    assert info.params["prior_weight"] == 0.5 and len(reservoir) > 0
    direct = blend(make_lm(info.model).fit(CATS).automaton_, SMALL_PRIOR).at(0.5)
    np.testing.assert_allclose(model.automaton_.log_probs(CATS), direct.log_probs(CATS))
    # another prior or weight is another version; none (or weight 1) is the team model alone
    assert trained.version != train_team_corpus("cats", CATS, prior=TeamPrior(SMALL_PRIOR, "p2"), weight=0.5).version
    alone = train_team_corpus("cats", CATS, prior=prior, weight=1.0)
    assert alone.version == train_team_corpus("cats", CATS, weight=1.0).version


def test_the_weight_grows_with_the_list():
    weights = [weight_for(n) for n in (20, 100, 300, 1_000, 50_000)]
    assert weights == sorted(weights) and weights[0] > 0 and weights[-1] <= 1
    assert WEIGHT_BY_SIZE[-1][0] is None


def test_the_prior_is_fitted_once_then_loaded_and_excludes_the_benchmarks_sources(tmp_path):
    assert not {"pypi", "pypi-words", "debian"} & set(PRIOR_CORPORA)
    first = team_prior(tmp_path)
    path = tmp_path / PRIOR_NAME / f"{PRIOR_MODEL}.npz"
    assert path.exists() and first.version == prior_info(prior_words()).version
    written = path.stat().st_mtime_ns
    again = team_prior.__wrapped__(tmp_path)  # another process: loaded from the file, not fitted again
    assert path.stat().st_mtime_ns == written and again.version == first.version
    np.testing.assert_array_equal(again.automaton.probs, first.automaton.probs)
    assert team_prior(tmp_path) is first  # once per process
