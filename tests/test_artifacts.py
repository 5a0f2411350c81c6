"""Trained once, saved with provenance, loaded once, refused when the format changed."""

import json

import numpy as np
import pytest

from core.artifacts import fingerprint, trained_name_models
from core.errors import ArtifactVersionMismatch, ModelNotTrained, UnknownCorpus, UnknownModel
from corpora import corpus_hash, load_corpus
from models import artifact
from models.registry import ModelRegistry
from models.training import train_one


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path)


@pytest.mark.parametrize("model", ["kn3", "markov2"])
def test_round_trip_keeps_the_model_and_its_provenance(registry, model):
    info, trained = train_one(registry, "cats", model)
    assert trained
    loaded, loaded_info = artifact.load(registry.path("cats", model))
    assert loaded_info.version == info.version
    assert loaded_info.corpus_hash == corpus_hash(load_corpus("cats"))
    assert loaded_info.params["order"] == int(model[-1])
    assert {"heldout_nll", "heldout_coverage", "novelty", "states", "train_seconds"} <= set(loaded_info.metrics)
    fresh = train_one(ModelRegistry(registry.root / "again"), "cats", model, force=True)[0]
    assert fresh.version == info.version  # same data and parameters: same version
    a = artifact.load(registry.root / "again" / "cats" / f"{model}.npz")[0]
    np.testing.assert_array_equal(a.automaton_.probs, loaded.automaton_.probs)
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    assert [c.name for c in a.generate(5, rng())] == [c.name for c in loaded.generate(5, rng())]


def test_retraining_unchanged_input_is_skipped(registry):
    train_one(registry, "dogs", "kn3")
    mtime = registry.path("dogs", "kn3").stat().st_mtime_ns
    _, trained = train_one(registry, "dogs", "kn3")
    assert not trained and registry.path("dogs", "kn3").stat().st_mtime_ns == mtime
    _, trained = train_one(registry, "dogs", "kn3", force=True)
    assert trained


def test_a_different_format_is_refused(registry):
    train_one(registry, "cats", "kn3")
    path = registry.path("cats", "kn3")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"])) | {"format": artifact.FORMAT + 1}
    np.savez(path, **(arrays | {"header": np.array(json.dumps(header))}))
    with pytest.raises(ArtifactVersionMismatch, match="tnaas train --force"):
        artifact.load(path)


def test_registry_loads_each_model_once(registry):
    train_one(registry, "cats", "kn3")
    first = registry.model("cats", "kn3")
    assert registry.model("cats", "KN3") is first


def test_registry_errors_are_friendly(registry):
    with pytest.raises(UnknownCorpus, match="Try one of: pokemon"):
        registry.model("pokemn", "kn3")
    with pytest.raises(UnknownModel, match="kn5"):
        registry.model("cats", "gpt4")
    with pytest.raises(ModelNotTrained, match="tnaas train"):
        registry.model("cats", "kn7")


def test_a_new_version_takes_over_only_what_is_unchanged_on_disk(trained_artifacts, tmp_path):
    """A worker loads a new registry for every published version (a retrained reranker: once a minute
    while a team's first votes come in). What was loaded from files unchanged since -- and computed
    from those only -- is taken over; a rewritten file is loaded again, with what depends on it."""
    import os
    import shutil

    root = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, root)
    old = ModelRegistry(root)
    version = old.preload()
    scored_by = ("kn3", "markov2")
    cats, pokemon = old.pool_features("cats", "kn3", scored_by), old.pool_features("pokemon", "kn3", scored_by)
    rewritten = old.path("cats", "markov2")
    os.utime(rewritten, ns=(rewritten.stat().st_atime_ns, rewritten.stat().st_mtime_ns + 10**9))  # a deploy

    new = ModelRegistry(root).reusing(old)
    assert new.preload() != version  # a new version
    assert new.model("pokemon", "markov2") is old.model("pokemon", "markov2")
    assert new.model("cats", "kn3") is old.model("cats", "kn3")
    assert new.reservoir("cats", "kn3") is old.reservoir("cats", "kn3")
    assert new.estimator("judge") is old.estimator("judge")
    assert new.model("cats", "markov2") is not old.model("cats", "markov2")  # its file changed: loaded again
    assert new.pool_features("pokemon", "kn3", scored_by) is pokemon
    assert new.pool_features("cats", "kn3", scored_by) is not cats  # computed with the rewritten model
    assert ModelRegistry(root).reusing(None).model("cats", "kn3") is not old.model("cats", "kn3")


def test_a_reservoir_built_under_other_settings_still_answers_and_the_operator_is_told(
    trained_artifacts, tmp_path, caplog
):
    """Code upgraded (say, another sampling temperature) but ``tnaas train`` not run since."""
    import shutil

    from models.believability import Reservoir

    root = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, root)
    path = ModelRegistry(root).reservoir_path("cats", "kn3")
    built = Reservoir.load(path)
    older = built.info.model_copy(update={"params": built.info.params | {"temperature": 0.5}})
    Reservoir(built.names, built.scores, built.log_probs, older).save(path)

    registry = ModelRegistry(root)
    with caplog.at_level("WARNING", logger="models.registry"):
        assert registry.reservoir("cats", "kn3").names == built.names  # still answers
        registry.reservoir("pokemon", "kn3")  # up to date: nothing said
    (said,) = [r.getMessage() for r in caplog.records if r.name == "models.registry"]
    assert said.startswith("the cats/kn3 reservoir was built under other settings") and "`tnaas train`" in said


def test_an_artifacts_version_follows_its_data_and_parameters():
    """The version is derived on every look, never remembered: a copy with other parameters, or
    parameters changed in place, is another version (a cached one went stale, stop 24)."""
    from models.artifact import ArtifactInfo

    info = ArtifactInfo(corpus="cats", model="kn3", corpus_hash="h", params={"order": 3})
    first = info.version
    assert info.model_copy(update={"params": {"order": 4}}).version != first
    info.params["order"] = 5
    assert info.version != first
    assert ArtifactInfo(corpus="cats", model="kn3", corpus_hash="h", params={"order": 3}).version == first


def test_the_web_reads_what_is_trained_and_its_version_from_the_files_as_the_registry_does(trained_artifacts):
    """The web process lists trained models and publishes the version without importing the models:
    the version must be the one the workers compute, or /healthz would call every worker outdated."""
    registry = ModelRegistry(trained_artifacts)
    listed = trained_name_models(trained_artifacts)
    assert sorted((c, m) for c, models in listed.items() for m in models) == sorted(
        (i.corpus, i.model) for i in registry.trained()
    )
    assert fingerprint(trained_artifacts) == registry.fingerprint()
