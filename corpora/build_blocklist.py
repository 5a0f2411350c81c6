"""Rebuild corpora/blocklist/ (words never shown in a generated name) from a registry package.

Run ``python -m corpora.build_blocklist`` (needs npm and the registry). The source is npm
``naughty-words``: the List of Dirty, Naughty, Obscene and Otherwise Bad Words (CC-BY-4.0), one list
per language; we take the languages of our corpora (English names and packages, Swedish words).

Each word gets a match mode. ``substring``: a name containing it anywhere is blocked (``fuckmon``).
``token``: blocked only as a whole word between separators, because the word hides inside many
innocent names of our own corpora (``anal`` in ``analytics``, ``mong`` in ``pymongo``, ``butt`` in
``button``): words of fewer than 4 letters, and words found inside at least ``INNOCENT_HOSTS`` corpus
names. The output is deterministic for a given package version.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import tempfile
import unicodedata
from pathlib import Path

from corpora import corpus_names, load_corpus
from corpora.build import npm_unpack

log = logging.getLogger(__name__)

HERE = Path(__file__).parent / "blocklist"
PACKAGE = "naughty-words"
LANGUAGES = {"en": "English", "sv": "Swedish"}
MIN_SUBSTRING = 4
INNOCENT_HOSTS = 3


def tokens(name: str) -> list[str]:
    """The words of a name: runs of letters (separators and digits split them)."""
    return [t for t in re.split(r"[^\w]|[\d_]", name) if t]


def normalise_word(word: str) -> str | None:
    """Lowercase NFC letters only (multi-word entries joined); None for entries that are not words."""
    word = re.sub(r"\s+", "", unicodedata.normalize("NFC", word).lower())
    return word if word and all(ch.isalpha() for ch in word) else None


def match_mode(word: str, corpus_tokens: list[str]) -> str:
    if len(word) < MIN_SUBSTRING:
        return "token"
    hosts = sum(1 for t in corpus_tokens if word in t and t != word)
    return "token" if hosts >= INNOCENT_HOSTS else "substring"


def build(dest: Path = HERE) -> None:
    corpus_tokens = sorted({t for c in corpus_names() for n in load_corpus(c) for t in tokens(n)})
    rows: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder, version = npm_unpack(PACKAGE, Path(tmp))
        for lang in LANGUAGES:
            for entry in json.loads((folder / f"{lang}.json").read_text(encoding="utf-8")):
                word = normalise_word(entry)
                if word and word not in rows:
                    rows[word] = (lang, match_mode(word, corpus_tokens))
        license_text = (folder / "LICENSE").read_text(encoding="utf-8")
    dest.mkdir(exist_ok=True)
    lines = [f"{w}\t{lang}\t{mode}" for w, (lang, mode) in sorted(rows.items())]
    (dest / "blocklist.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = {
        "source": f"npm:{PACKAGE} v{version} ({', '.join(f'{k}.json' for k in LANGUAGES)})",
        "upstream": "List of Dirty, Naughty, Obscene and Otherwise Bad Words (LDNOOBW)",
        "license": "CC-BY-4.0" if "Attribution 4.0" in license_text else "see the package",
        "languages": LANGUAGES,
        "words": len(rows),
        "substring_words": sum(mode == "substring" for _, mode in rows.values()),
        "rule": f"substring match for words of {MIN_SUBSTRING}+ letters found inside fewer than {INNOCENT_HOSTS} "
        "corpus words; otherwise whole-word (token) match",
    }
    (dest / "manifest.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("wrote %d words (%d substring) from %s", meta["words"], meta["substring_words"], meta["source"])


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    build()
