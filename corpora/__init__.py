"""The name corpora: one normalised name per line in ``<name>.txt``, described by ``manifest.json``."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from core.errors import UnknownCorpus

HERE = Path(__file__).parent


@cache
def manifest() -> dict[str, dict]:
    return json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))


def corpus_names() -> list[str]:
    """Corpora users generate from; judge-only corpora (Debian's project names) are not among them."""
    return [name for name, meta in manifest().items() if meta.get("role", "generate") == "generate"]


def judge_corpus_names() -> list[str]:
    """Every corpus, the judge-only ones included."""
    return list(manifest())


def corpus_path(name: str) -> Path:
    if name not in manifest():
        raise UnknownCorpus(name, corpus_names())
    return HERE / f"{name}.txt"


def load_corpus(name: str) -> list[str]:
    return corpus_path(name).read_text(encoding="utf-8").split()


def corpus_hash(words: list[str]) -> str:
    """Content hash of a word list, recorded in every model artifact trained on it."""
    return hashlib.sha256("\n".join(words).encode()).hexdigest()[:16]
