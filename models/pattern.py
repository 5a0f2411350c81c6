"""Patterns such as ``*u*a`` or ``mo***``: each ``*`` is exactly one unknown character."""

from __future__ import annotations

import unicodedata

import numpy as np

from core.errors import ImpossiblePattern, InvalidPattern
from core.limits import MAX_PATTERN_LEN
from models.alphabet import UNKNOWN
from models.automaton import ContextAutomaton

WILDCARD = "*"
EMPTY_PATTERN = "The pattern is empty. Use * for each unknown letter, e.g. *u*a or mo***."


def normalise_pattern(text: str) -> str:
    """NFC, lowercase, invisible characters dropped, so what the user typed matches the corpus."""
    text = unicodedata.normalize("NFC", text).strip().lower()
    return "".join(ch for ch in text if unicodedata.category(ch) not in {"Cf", "Cc", "Zs"})


def encode_pattern(pattern: str, automaton: ContextAutomaton, corpus: str = "this corpus") -> np.ndarray:
    """Symbol ids with -1 for each wildcard; a clear error for anything no name could match."""
    if not pattern:
        raise InvalidPattern(EMPTY_PATTERN)
    if len(pattern) > MAX_PATTERN_LEN:
        raise InvalidPattern(f"The pattern is {len(pattern)} characters long; the limit is {MAX_PATTERN_LEN}.")
    alphabet = automaton.alphabet
    unknown = sorted({ch for ch in pattern if ch != WILDCARD and ch not in alphabet})
    if unknown:
        shown = ", ".join(repr(ch) for ch in unknown)
        raise ImpossiblePattern(f"No {corpus} name contains {shown}. Letters seen in {corpus}: {automaton.alphabet}")
    return np.array([UNKNOWN if ch == WILDCARD else alphabet.id(ch) for ch in pattern], dtype=np.int64)
