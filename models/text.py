"""Cleaning free text before a classifier sees it: one place decides what counts as evidence."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tnaas.limits import EVIDENCE_LEN

TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # runs of letters, inner apostrophes and hyphens


@dataclass(frozen=True)
class CleanText:
    text: str  # lowercase letter tokens joined by single spaces; "" when there is no evidence
    truncated: bool  # the input was longer than the limit and only its start was used
    letters: int  # letters in ``text``


def clean_text(raw: str, limit: int = EVIDENCE_LEN) -> CleanText:
    """NFC, zero-width and control characters dropped, lowercase, digits/emoji/punctuation dropped."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in {"Cf", "Cc"} or ch in "\n\t")
    truncated = len(text) > limit
    if truncated:
        cut = text[:limit]
        text = cut[: cut.rfind(" ")] if " " in cut[limit // 2 :] else cut
    tokens = TOKEN.findall(text.lower())
    joined = " ".join(tokens)
    return CleanText(joined, truncated, sum(len(t) for t in tokens))


def sentences(paragraph: str, min_words: int = 3, min_letters: int = 15) -> list[str]:
    """Split on sentence punctuation (incl. CJK full stops); keep pieces with enough words, or
    enough letters for scripts written without spaces."""
    parts = re.split(r"(?<=[.;:!?。！？])\s*", paragraph)
    keep = []
    for part in parts:
        tokens = TOKEN.findall(part)
        if len(tokens) >= min_words or sum(map(len, tokens)) >= min_letters:
            keep.append(part.strip())
    return keep
