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


LEARNT = ("reranker.joblib",)  # what a stack learns from its votes, in its own data folder (``learnt``)


def fingerprint(root: Path, learnt: Path | None = None) -> str:
    """The deployed version: changes whenever any artifact is rewritten (name, size, modification time),
    the trained models under ``root`` or what the stack learnt under ``learnt``. Workers compare it with
    ``ModelRegistry.fingerprint`` of what they hold: the two are the same sum."""
    root = Path(root)
    h = hashlib.sha256()
    files = [(p.relative_to(root), p) for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in SUFFIXES]
    if learnt is not None and Path(learnt) != root:
        files = [(rel, p) for rel, p in files if str(rel) not in LEARNT]  # another stack's, not this one's
        files += [(Path("learnt") / name, Path(learnt) / name) for name in LEARNT if (Path(learnt) / name).is_file()]
    for rel, path in files:
        st = path.stat()
        h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
