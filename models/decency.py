"""Names a team would be embarrassed to see posted in a company channel are never shown.

The word list is LDNOOBW (npm ``naughty-words``, CC-BY-4.0) in the languages of our corpora, rebuilt
by ``corpora/build_blocklist.py``, which also decides per word whether it blocks anywhere inside a
name or only as a whole word (see there: ``anal`` hides in ``analytics``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path

BLOCKLIST_DIR = Path(__file__).resolve().parents[1] / "corpora" / "blocklist"


class Blocklist:
    """``blocked(name)``: does the name contain a listed word (as its mode says)?"""

    def __init__(self, substrings: list[str], tokens: list[str]):
        self.tokens = frozenset(tokens) | frozenset(substrings)
        ordered = sorted(set(substrings), key=lambda w: (-len(w), w))
        self._inside = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_tsv(cls, text: str) -> Blocklist:
        substrings, tokens = [], []
        for line in text.splitlines():
            if line.strip():
                word, _, mode = line.split("\t")
                (substrings if mode == "substring" else tokens).append(word)
        return cls(substrings, tokens)

    def blocked(self, name: str) -> bool:
        name = unicodedata.normalize("NFC", name).lower()
        if self._inside is not None and self._inside.search(name):
            return True
        return any(t in self.tokens for t in re.split(r"[^\w]|[\d_]", name) if t)

    def mask(self, names: list[str]) -> list[bool]:
        return [self.blocked(n) for n in names]


@cache
def default_blocklist() -> Blocklist:
    return Blocklist.from_tsv((BLOCKLIST_DIR / "blocklist.tsv").read_text(encoding="utf-8"))


def blocklist_source() -> dict:
    """Where the list comes from and under which license (recorded in every reservoir artifact)."""
    return json.loads((BLOCKLIST_DIR / "manifest.json").read_text(encoding="utf-8"))
