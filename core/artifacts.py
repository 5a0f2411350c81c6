"""Where trained models are kept -- ``<root>/<corpus>/<model>.npz`` and ``<root>/<name>.joblib`` --
read from the files' names and stamps alone: the web process lists what is trained, and publishes the
version it starts with, without importing the models (``models.registry`` loads them)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.model_names import all_model_names

SUFFIXES = {".npz", ".joblib"}  # name models, and scikit-learn's (the judge, the language detector, the reranker)


def trained_name_models(root: Path) -> dict[str, list[str]]:
    """{corpus: [model, ...]}: the name models trained under ``root`` (a file being written is not one yet)."""
    names = set(all_model_names())
    trained: dict[str, list[str]] = {}
    for path in sorted(Path(root).glob("*/*.npz")):
        if path.stem in names:
            trained.setdefault(path.parent.name, []).append(path.stem)
    return trained


def fingerprint(root: Path) -> str:
    """The deployed version: changes whenever any artifact is rewritten (name, size, modification time).
    Workers compare it with ``ModelRegistry.fingerprint`` of what they hold: the two are the same sum."""
    root = Path(root)
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in SUFFIXES:
            st = path.stat()
            h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
