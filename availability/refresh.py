"""Making a snapshot (an operator's step: `tnaas availability refresh`) and keeping it fresh (the
scheduler's ``jobs.upkeep.refresh_snapshots``).

The stack never downloads a registry's whole name list by itself: the scheduler only rebuilds a snapshot
that exists, once it is ``TNAAS_AVAILABILITY_SNAPSHOT_REFRESH`` seconds old, from where its names came
(its ``origin``): the PyPI index the live checks use, the file the operator named, or the installed
``all-the-package-names``. Without a snapshot, marks read "not registered" where the "too similar" rule
would have needed one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from availability.config import NotConfigured, resolve
from availability.rules import PYPI, REGISTRIES
from availability.snapshot import Snapshot, SnapshotStore
from availability.sources import NPM_NAMES_PACKAGE, SourceError, installed_npm_names, names_from_file, names_from_index
from store.availability import SnapshotState, SnapshotStates, snapshot_state

log = logging.getLogger(__name__)

INDEX, FILE, NPM_PACKAGE = "index", "file", "npm-package"  # Snapshot.origin["kind"]


def read_names(registry: str, settings, from_file: Path | None = None, origin: dict | None = None):
    """(names, source for people, origin for the next refresh). ``from_file`` (or a file origin) first;
    else PyPI's index (as configured now: the one the live checks ask) or npm's installed name list."""
    kind = (origin or {}).get("kind")
    if from_file is None and kind == FILE:
        from_file = Path(origin["where"])
    if from_file is not None:
        path = Path(from_file).resolve()
        return names_from_file(path), str(from_file), {"kind": FILE, "where": str(path)}
    if registry == PYPI:
        endpoint = resolve(PYPI, settings.pypi_index_url)
        log.info("pypi: reading the index at %s (%s)", endpoint.url, endpoint.origin)
        names = names_from_index(endpoint, settings.availability_refresh_timeout)
        return names, endpoint.url, {"kind": INDEX, "where": endpoint.url}
    found = installed_npm_names()
    if found is None:
        raise SourceError(
            f"the npm registry has no list of every name. Install one (`npm install -g {NPM_NAMES_PACKAGE}`) "
            "or pass a file: `tnaas availability refresh npm --from names.json`."
        )
    return names_from_file(found), f"{NPM_NAMES_PACKAGE} ({found})", {"kind": NPM_PACKAGE, "where": str(found)}


def refresh_snapshot(
    registry: str,
    store: SnapshotStore,
    settings,
    from_file: Path | None = None,
    origin: dict | None = None,
    states: SnapshotStates | None = None,
) -> Snapshot:
    """Read the names, build and save the snapshot (and report it); the old one is kept if there are
    none. Raises SourceError or NotConfigured with a message that says what would work."""
    names, source, found_at = read_names(registry, settings, from_file, origin)
    snap = Snapshot.build(registry, names, source, found_at)
    if not len(snap.exact):
        raise SourceError(f"{source} has no names; the old snapshot is kept.")
    store.save(snap)
    if states is not None:
        states.report(registry, snap.describe())
    return snap


def origin_of(meta: dict) -> dict:
    """Where a snapshot's names came from; for snapshots made before origins were kept, from its source."""
    if meta.get("origin"):
        return meta["origin"]
    source = meta.get("source", "")
    if source.startswith(("http://", "https://")):
        return {"kind": INDEX, "where": source}
    if source.startswith(NPM_NAMES_PACKAGE):
        return {"kind": NPM_PACKAGE, "where": source}
    return {"kind": FILE, "where": source}


def refresh_due(
    store: SnapshotStore, settings, now: float | None = None, states: SnapshotStates | None = None
) -> dict[str, str]:
    """Rebuild every snapshot older than TNAAS_AVAILABILITY_SNAPSHOT_REFRESH from its origin; registry ->
    what happened, for those due. A registry without a snapshot is left alone: making one is the operator's."""
    now = time.time() if now is None else now
    done = {}
    for registry in REGISTRIES:
        meta = store.meta(registry)
        if meta is None or now - meta.get("built_at", 0.0) < settings.availability_snapshot_refresh:
            continue
        if states is not None and not states.claim_refresh(registry, settings.availability_refresh_timeout + 60):
            done[registry] = "being refreshed elsewhere"
            continue
        try:
            snap = refresh_snapshot(registry, store, settings, origin=origin_of(meta), states=states)
            done[registry] = f"{len(snap.exact):,} names from {snap.source}"
            log.info("availability snapshot for %s refreshed: %s", registry, done[registry])
        except (SourceError, NotConfigured) as err:
            done[registry] = f"failed: {err}"
            log.warning("availability snapshot for %s not refreshed (the old one stays): %s", registry, err)
        finally:
            if states is not None:
                states.release_refresh(registry)
    return done


def snapshot_states(store: SnapshotStore, settings, now: float | None = None) -> list[SnapshotState]:
    """Each registry's snapshot on this machine's disk: none, fresh, due or stale, and its age."""
    now = time.time() if now is None else now
    return [snapshot_state(r, store.meta(r), settings.availability_snapshot_refresh, now) for r in REGISTRIES]
