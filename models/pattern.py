"""Patterns such as ``*u*a`` or ``mo***`` as a model reads them: symbol ids, -1 for each unknown.
How a pattern is written and normalised is ``core.pattern``'s (``normalise_pattern`` re-exported)."""

from __future__ import annotations

import numpy as np

from core.errors import ImpossiblePattern, InvalidPattern
from core.limits import MAX_PATTERN_LEN
from core.pattern import EMPTY_PATTERN, WILDCARD, normalise_pattern
from models.alphabet import UNKNOWN
from models.automaton import ContextAutomaton

__all__ = ["EMPTY_PATTERN", "WILDCARD", "encode_pattern", "normalise_pattern"]


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
