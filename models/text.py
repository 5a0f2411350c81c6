"""Cleaning free text before a classifier sees it: one place decides what counts as evidence."""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from core.limits import EVIDENCE_LEN


def _marks() -> str:
    """Every combining mark of the Basic Multilingual Plane (Mn, Mc, Me) as regex class ranges."""
    marks = [c for c in range(0x300, 0x10000) if unicodedata.category(chr(c)).startswith("M")]
    ranges, start = [], marks[0]
    for prev, cur in zip(marks, [*marks[1:], None]):
        if cur != prev + 1:
            ranges.append(f"\\u{start:04x}-\\u{prev:04x}")
            start = cur
    return "".join(ranges)


# A word: a letter, then letters and combining marks (Devanagari and Thai vowel signs are marks, so
# without them "नमस्ते" would fall apart), with inner apostrophes and hyphens.
_WORD = rf"[^\W\d_](?:[^\W\d_]|[{_marks()}])*"
TOKEN = re.compile(rf"{_WORD}(?:['’-]{_WORD})*")


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


# Whole Unicode blocks, so any letter of a script counts, not only the ones seen in training.
# Scripts used by one of our languages alone (Hangul, kana, Hebrew, Devanagari...) then decide alone.
SCRIPT_BLOCKS = sorted(
    [
        (0x0041, 0x024F, "Latin"),
        (0x1E00, 0x1EFF, "Latin"),
        (0x2C60, 0x2C7F, "Latin"),
        (0xA720, 0xA7FF, "Latin"),
        (0xAB30, 0xAB6F, "Latin"),
        (0xFF21, 0xFF5A, "Latin"),
        (0x0370, 0x03FF, "Greek"),
        (0x1F00, 0x1FFF, "Greek"),
        (0x0400, 0x052F, "Cyrillic"),
        (0x1C80, 0x1C8F, "Cyrillic"),
        (0x2DE0, 0x2DFF, "Cyrillic"),
        (0xA640, 0xA69F, "Cyrillic"),
        (0x0530, 0x058F, "Armenian"),
        (0x0590, 0x05FF, "Hebrew"),
        (0xFB1D, 0xFB4F, "Hebrew"),
        (0x0600, 0x06FF, "Arabic"),
        (0x0750, 0x077F, "Arabic"),
        (0x08A0, 0x08FF, "Arabic"),
        (0xFB50, 0xFDFF, "Arabic"),
        (0xFE70, 0xFEFF, "Arabic"),
        (0x0900, 0x097F, "Devanagari"),
        (0xA8E0, 0xA8FF, "Devanagari"),
        (0x0980, 0x09FF, "Bengali"),
        (0x0E00, 0x0E7F, "Thai"),
        (0x10A0, 0x10FF, "Georgian"),
        (0x1100, 0x11FF, "Hangul"),
        (0x3130, 0x318F, "Hangul"),
        (0xA960, 0xA97F, "Hangul"),
        (0xAC00, 0xD7AF, "Hangul"),
        (0xD7B0, 0xD7FF, "Hangul"),
        (0x3040, 0x309F, "Kana"),
        (0x30A0, 0x30FF, "Kana"),
        (0x31F0, 0x31FF, "Kana"),
        (0xFF66, 0xFF9F, "Kana"),
        (0x3400, 0x4DBF, "Han"),
        (0x4E00, 0x9FFF, "Han"),
        (0xF900, 0xFAFF, "Han"),
        (0x20000, 0x2FA1F, "Han"),
    ]
)
_BLOCK_STARTS = [start for start, _, _ in SCRIPT_BLOCKS]


@functools.lru_cache(maxsize=8192)  # texts repeat a few letters: a dict hit, not a bisect, per letter
def script_of(ch: str) -> str:
    """The script of one letter by its Unicode block ("Other" outside the blocks above)."""
    code = ord(ch)
    i = bisect.bisect_right(_BLOCK_STARTS, code) - 1
    if i >= 0 and SCRIPT_BLOCKS[i][0] <= code <= SCRIPT_BLOCKS[i][1]:
        return SCRIPT_BLOCKS[i][2]
    return "Other"


def letter_scripts(text: str) -> Counter:
    """How many letters of ``text`` each script has."""
    return Counter(script_of(ch) for ch in text if ch.isalpha())


def main_script(text: str) -> str | None:
    """The script that decides which languages are possible: any kana makes it Japanese text (kanji
    and kana mix, kana occur in no other language), otherwise the script with the most letters."""
    counts = letter_scripts(text)
    if not counts:
        return None
    if counts.get("Kana"):
        return "Kana"
    return counts.most_common(1)[0][0]
