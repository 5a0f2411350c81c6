"""The compact snapshot: exact look-ups, the "too similar" keys, its false-positive rate, files on disk."""

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis import Redis

from availability.refresh import refresh_due, refresh_snapshot, snapshot_states
from availability.rules import NPM, PYPI
from availability.snapshot import HashIndex, Snapshot, SnapshotStore
from availability.sources import SourceError, names_from_file
from core.settings import Settings
from jobs.schedule import scheduler
from jobs.upkeep import refresh_snapshots
from testkit.registry_standin import RegistryStandin

PYPI_NAMES = ["requests", "Django", "zope.interface", "yt_tools", "numpy", "Pillow"]
NPM_NAMES = ["left-pad", "react-native", "JSONStream", "@babel/core", "lodash"]


def test_pypi_snapshot_answers_by_pep503_and_ultranormal_keys():
    snap = Snapshot.build(PYPI, PYPI_NAMES, "test")
    asked = ["requests", "REQUESTS", "Zope_Interface", "django", "yttools", "yt.t00ls", "pi11ow", "kafkify", "numpy2"]
    assert snap.taken(asked).tolist() == [True, True, True, True, False, False, False, False, False]
    assert snap.similar_taken(asked).tolist() == [True, True, True, True, True, True, True, False, False]
    assert snap.possibly_free(asked).tolist() == [False] * 7 + [True, True]


def test_npm_snapshot_is_exact_by_name_and_similar_without_punctuation():
    snap = Snapshot.build(NPM, NPM_NAMES, "test")
    asked = [
        "left-pad",
        "leftpad",
        "left_pad",
        "jsonstream",
        "JSONStream",
        "@babel/core",
        "@babel/cor-e",
        "@me/leftpad",
        "kafkify",
    ]
    assert snap.taken(asked).tolist() == [True, False, False, False, True, True, False, False, False]
    assert snap.similar_taken(asked).tolist() == [True, True, True, True, True, False, False, False, False]


def test_absent_names_are_not_found(rng):
    """200k random names against 200k stored: a hit would be a 64-bit collision (expected 2e-9 of one)."""
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789-", dtype=np.uint8)

    def random_names(length: int) -> list[str]:
        raw = letters[rng.integers(0, len(letters), (200_000, length))]
        return sorted(set(raw.view(f"S{length}").ravel().astype(str)))

    stored, asked = random_names(12), random_names(11)  # a different length: never stored
    snap = Snapshot.build(NPM, stored)
    assert snap.taken(stored).all()
    assert not snap.taken(asked).any()
    assert len(snap.exact) == len(stored)  # no two stored names collided either
    assert snap.false_positive_rate < 1e-13


def test_store_round_trip_keeps_two_versions_and_survives_a_broken_pointer(tmp_path, caplog):
    store = SnapshotStore(tmp_path)
    assert store.load(PYPI) is None
    first = store.save(Snapshot.build(PYPI, ["alpha"], "one"))
    store.save(Snapshot.build(PYPI, ["beta"], "two"))
    third = store.save(Snapshot.build(PYPI, PYPI_NAMES, "three"))
    loaded = store.load(PYPI)
    assert loaded.source == "three" and loaded.names == len(PYPI_NAMES)
    assert loaded.taken(["requests", "alpha"]).tolist() == [True, False]
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 2 and third.name in folders and first.name not in folders
    store.pointer(PYPI).write_text("{not json")
    assert store.load(PYPI) is None
    assert "unreadable" in caplog.text


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (json.dumps(["a", "b-c", "@s/d"]), ["a", "b-c", "@s/d"]),
        (json.dumps({"meta": {"api-version": "1.1"}, "projects": [{"name": "Foo"}, {"name": "bar"}]}), ["Foo", "bar"]),
        ("name\tversion\nfoo\t1.0\nbar\t2.0\n", ["foo", "bar"]),
        ("foo\n\nbar\n", ["foo", "bar"]),
    ],
)
def test_names_from_file_reads_every_format(tmp_path, content, names):
    path = tmp_path / "names"
    path.write_text(content)
    assert names_from_file(path) == names


@pytest.mark.parametrize("content", ["[1, 2]", '{"projects": 3}', '["a", '])
def test_names_from_a_bad_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "names.json"
    path.write_text(content)
    with pytest.raises(SourceError, match="names.json"):
        names_from_file(path)


def test_names_from_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="Cannot read"):
        names_from_file(tmp_path / "nowhere.json")


U64 = st.integers(0, 2**64 - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(U64, max_size=300), st.lists(U64, max_size=50), st.sampled_from([0, 1, 2**63, 2**64 - 1]))
def test_hash_index_membership_is_exact(stored, asked, edge):
    values = np.unique(np.array(stored + [edge], dtype=np.uint64))
    queries = np.array(asked + stored[:10] + [edge, 0, 2**64 - 1], dtype=np.uint64)
    assert HashIndex(values).contains(queries).tolist() == np.isin(queries, values).tolist()
    assert not HashIndex(np.zeros(0, dtype=np.uint64)).contains(queries).any()


# -- kept fresh by the scheduler, once an operator made one ------------------------------------------
def test_the_scheduled_refresh_renews_what_an_operator_made_and_never_makes_one(tmp_path):
    with RegistryStandin(["pip", "requests"], ["npm"]) as standin:
        settings = Settings(
            availability_dir=tmp_path / "snapshots",
            pypi_index_url=standin.pypi_url,
            npm_registry_url=standin.npm_url,
            availability_snapshot_refresh=3600,
        )
        store = SnapshotStore(settings.snapshot_dir)
        assert refresh_due(store, settings) == {} and standin.requests == []  # no snapshot: none downloaded
        assert {s.registry: s.state for s in snapshot_states(store, settings)} == {PYPI: "none", NPM: "none"}
        npm_names = tmp_path / "npm.txt"
        npm_names.write_text("npm\nleft-pad\n")
        refresh_snapshot(PYPI, store, settings)  # the operator's step: from the index
        refresh_snapshot(NPM, store, settings, from_file=npm_names)
        assert refresh_due(store, settings) == {}  # fresh: not due
        states = {s.registry: s for s in snapshot_states(store, settings)}
        assert states[PYPI].state == "fresh" and 0 <= states[PYPI].age < 60 and states[PYPI].names == 2
        standin.pypi["kafkify"] = "kafkify"  # the registries grow
        npm_names.write_text("npm\nleft-pad\nkafkify\n")
        later = time.time() + 2 * 3600
        assert {s.registry: s.state for s in snapshot_states(store, settings, now=later)} == {
            PYPI: "stale",
            NPM: "stale",
        }
        done = refresh_due(store, settings, now=later)
        assert set(done) == {PYPI, NPM}
        assert store.load(PYPI).taken(["kafkify"]).tolist() == [True]
        assert store.load(NPM).taken(["kafkify"]).tolist() == [True]


def test_the_scheduler_runs_the_snapshot_refresh(redis_server):
    cron = scheduler(Redis.from_url(redis_server.url), Settings())
    assert refresh_snapshots.__name__ in {job.func_name.rsplit(".", 1)[-1] for job in cron.get_jobs()}
