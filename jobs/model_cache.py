"""The worker's models: loaded once per process, reloaded only when a new version is deployed.

A deploy is ``tnaas train`` followed by ``publish_version``: the fingerprint of the artifacts folder
goes into Redis, and each worker compares it with what it holds between jobs.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from redis import Redis

from corpora import corpus_names
from models.catalog import default_models
from models.registry import ModelRegistry
from tnaas.settings import get_settings

log = logging.getLogger(__name__)
VERSION_KEY = "tnaas:models:version"

_registry: ModelRegistry | None = None
_loaded_version: str | None = None
_seen_published: str | None = None


def fingerprint(root: Path) -> str:
    """Changes whenever any artifact is rewritten (name, size, modification time)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {".npz", ".joblib"}:
            st = path.stat()
            h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def publish_version(connection: Redis, root: Path | None = None) -> str:
    version = fingerprint(root or get_settings().artifacts_dir)
    connection.set(VERSION_KEY, version)
    return version


def registry() -> ModelRegistry:
    if _registry is None:
        raise RuntimeError("models are not loaded: call preload() when the worker starts")
    return _registry


def preload() -> str:
    """Load every trained name model, the judge, the language detector and the reranker into this process."""
    global _registry, _loaded_version
    start = time.perf_counter()
    root = get_settings().artifacts_dir
    fresh = ModelRegistry(root)
    loaded = 0
    for corpus in corpus_names():
        for model in default_models():
            if fresh.path(corpus, model).exists():
                fresh.get(corpus, model)
                loaded += 1
    for name in ("judge", "language"):
        fresh.estimator(name)
    reranker = fresh.optional_estimator("reranker")
    _registry, _loaded_version = fresh, fingerprint(root)
    log.info("loaded %d name models, the judge, the language detector and %s in %.0f ms (version %s)",
             loaded, "the reranker" if reranker is not None else "no reranker (not enough votes yet)",
             1000 * (time.perf_counter() - start), _loaded_version)
    return _loaded_version


def loaded_version() -> str | None:
    return _loaded_version


def reload_if_deployed(connection: Redis) -> bool:
    """Between jobs: one GET; a different published version means load everything again."""
    global _seen_published
    raw = connection.get(VERSION_KEY)
    published = raw.decode() if raw is not None else None
    if published is None or published in (_loaded_version, _seen_published):
        return False
    log.info("model version %s published (have %s): reloading", published, _loaded_version)
    _seen_published = published  # react once, even if this machine's files fingerprint differently
    preload()
    return True
