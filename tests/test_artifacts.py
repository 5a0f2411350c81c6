"""Trained once, saved with provenance, loaded once, refused when the format changed."""

import json

import numpy as np
import pytest

from core.artifacts import fingerprint, trained_name_models
from core.errors import ArtifactVersionMismatch, ModelNotTrained, UnknownCorpus, UnknownModel
from corpora import corpus_hash, load_corpus
from models import artifact
from models.artifact import ArtifactInfo
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
    a = artifact.load(ModelRegistry(registry.root / "again").path("cats", model))[0]
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
        arrays = {k: data[k] for k in data.files if k != "header.json"}
        header = json.loads(data["header.json"]) | {"format": artifact.FORMAT + 1}
    artifact.save_arrays(path, header, arrays)
    with pytest.raises(ArtifactVersionMismatch, match="tnaas train --force"):
        artifact.load(path)
    header = {k: v for k, v in header.items() if k != "version"} | {"format": 3}  # as releases before wrote them
    np.savez(path, **(arrays | {"header": np.array(json.dumps(header))}))
    with pytest.raises(ArtifactVersionMismatch, match="format 3, .* run `tnaas train --force`"):
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
    parameters changed in place, is another version (a cached one would go stale)."""
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


def test_a_loaded_model_is_a_read_only_mapping_of_its_file(registry):
    """Loading maps the artifact: the arrays are views of the file (shared by a machine's workers), and
    nothing can write through them."""
    train_one(registry, "cats", "kn3")
    model = registry.model("cats", "kn3")
    for array in (model.automaton_.probs, model.automaton_.next_state, model.tail_, model.known_.keys):
        assert not array.flags.writeable and not array.flags.owndata
        assert array.__array_interface__["data"][0] % artifact.ALIGN == 0
    with pytest.raises(ValueError, match="read-only"):
        model.automaton_.probs[0, 0] = 1.0
    assert {"header.json", "probs", "tail"} <= set(np.load(registry.path("cats", "kn3")).files)  # a plain .npz


def test_an_artifact_is_replaced_whole_and_a_reader_keeps_what_it_mapped(tmp_path):
    path = tmp_path / "a.npz"
    artifact.save_arrays(path, {"format": artifact.FORMAT, "n": 1}, {"x": np.arange(5.0), "names": np.array(["a"])})
    header, old = artifact.open_arrays(path)
    artifact.save_arrays(path, {"format": artifact.FORMAT, "n": 2}, {"x": np.arange(7.0) * 2})
    assert header["n"] == 1 and old["x"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # the old file, still mapped
    header, new = artifact.open_arrays(path)
    assert header["n"] == 2 and new["x"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0] and "names" not in new
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no temporary file left behind


def test_a_failed_write_leaves_the_artifact_as_it_was(tmp_path):
    path = tmp_path / "a.npz"
    artifact.save_arrays(path, {"format": artifact.FORMAT}, {"x": np.arange(3)})
    with pytest.raises(TypeError, match="object arrays"):
        artifact.save_arrays(path, {"format": artifact.FORMAT}, {"y": np.array([None, 1])})
    assert artifact.open_arrays(path)[1]["x"].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_an_estimators_info_is_read_from_the_header_beside_it_and_only_while_it_matches(tmp_path):
    """Comparing versions reads the header written beside an estimator; a file rewritten since (another
    writer, a copy) is read itself, so a stale header never passes for the estimator's version."""
    import joblib
    import sklearn
    from sklearn.dummy import DummyClassifier

    path = tmp_path / "judge.joblib"
    info = ArtifactInfo(corpus="*", model="judge", corpus_hash="a")
    artifact.save_estimator(DummyClassifier(), info, path)
    assert artifact.header_path(path).exists()
    assert artifact.read_estimator_info(path).version == info.version == artifact.load_estimator(path)[1].version

    artifact.header_path(path).unlink()  # as an older release saved it: read from the file, until training
    assert artifact.read_estimator_info(path).version == info.version  # finds it up to date and writes one
    assert artifact.ensure_header(path).version == info.version and artifact.header_path(path).exists()

    other = info.model_copy(update={"corpus_hash": "b"})
    joblib.dump({"header": other.header() | {"sklearn": sklearn.__version__}, "estimator": DummyClassifier()}, path)
    assert artifact.read_estimator_info(path).version == other.version != info.version


def test_an_estimator_of_a_class_this_release_moved_asks_for_retraining(tmp_path, monkeypatch):
    """An estimator pickled under a class path that no longer exists is refused with the command that
    fixes it, not an AttributeError or ModuleNotFoundError from pickle."""
    import importlib
    import sys

    import joblib
    import sklearn

    (tmp_path / "an_older_release.py").write_text("class Judge:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    older = importlib.import_module("an_older_release")
    path = tmp_path / "judge.joblib"
    header = ArtifactInfo(corpus="*", model="judge", corpus_hash="a").header() | {"sklearn": sklearn.__version__}
    joblib.dump({"header": header, "estimator": older.Judge()}, path)
    (tmp_path / "an_older_release.py").unlink()
    monkeypatch.delitem(sys.modules, "an_older_release")
    with pytest.raises(ArtifactVersionMismatch, match="tnaas train --force"):
        artifact.load_estimator(path)


def test_a_workers_ranking_columns_are_those_training_stored(trained_artifacts):
    """`tnaas train` stores each reservoir's judge and nll columns; a worker maps them, and they are
    the values it would compute itself."""
    from models.ranking import PoolFeatures

    registry = ModelRegistry(trained_artifacts)
    scored_by = ("kn3", "markov2")
    stored = registry.pool_features("pokemon", "kn3", scored_by)
    assert not stored.probs.flags.writeable  # mapped, not computed here
    computed = PoolFeatures.computed(
        registry.reservoir("pokemon", "kn3").names,
        registry.estimator("judge"),
        {m: registry.model("pokemon", m) for m in scored_by},
    )
    assert stored.classes == computed.classes
    np.testing.assert_array_equal(stored.probs, computed.probs)
    for m in scored_by:
        np.testing.assert_array_equal(stored.nll[m], computed.nll[m])


def test_ranking_columns_of_other_versions_are_computed_again(trained_artifacts, tmp_path, caplog):
    """Columns stored from another judge (or reservoir, or model) are not used: the worker computes
    its own, and says that `tnaas train` would store them."""
    import shutil

    from models.ranking import load_columns, save_columns

    root = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, root)
    path = ModelRegistry(root).ranking_path("cats", "kn3")
    features, info = load_columns(path)
    stale = info.model_copy(update={"params": info.params | {"judge": "another"}})
    save_columns(features, stale, path)
    registry = ModelRegistry(root)
    with caplog.at_level("INFO", logger="models.registry"):
        computed = registry.pool_features("cats", "kn3", ("kn3", "markov2"))
    assert computed.probs.flags.writeable  # computed in this process
    np.testing.assert_array_equal(computed.probs, features.probs)
    assert any("`tnaas train` stores" in r.getMessage() for r in caplog.records)


def test_a_forked_workers_first_registry_takes_over_what_the_fork_server_mapped(
    trained_artifacts, tmp_path, monkeypatch
):
    """`tnaas up` forks workers from a process that mapped the models (tnaas.preforked): a worker's
    first registry takes over what is unchanged on disk since, as from a previous version."""
    import os
    import shutil

    root = tmp_path / "artifacts"
    shutil.copytree(trained_artifacts, root)
    mapped = ModelRegistry(root)
    mapped.preload()
    monkeypatch.setattr(ModelRegistry, "forked_with", mapped)
    rewritten = mapped.path("cats", "kn3")
    os.utime(rewritten, ns=(rewritten.stat().st_atime_ns, rewritten.stat().st_mtime_ns + 10**9))

    first = ModelRegistry(root).reusing(None)
    assert first.estimator("judge") is mapped.estimator("judge")
    assert first.model("pokemon", "kn3") is mapped.model("pokemon", "kn3")
    assert first.model("cats", "kn3") is not mapped.model("cats", "kn3")  # rewritten since: mapped again
    assert ModelRegistry(trained_artifacts).reusing(None).model("pokemon", "kn3") is not mapped.model("pokemon", "kn3")
