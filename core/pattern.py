"""How a pattern (``*u*a``, ``mo***``) or a name is written: each ``*`` is exactly one unknown
character, and what the user typed is normalised once so that it matches the corpus. Shared by the
edges (which check requests) and the models (which complete patterns)."""

from __future__ import annotations

import unicodedata

WILDCARD = "*"
EMPTY_PATTERN = "The pattern is empty. Use * for each unknown letter, e.g. *u*a or mo***."


def normalise_pattern(text: str) -> str:
    """NFC, lowercase, invisible characters dropped, so what the user typed matches the corpus."""
    text = unicodedata.normalize("NFC", text).strip().lower()
    return "".join(ch for ch in text if unicodedata.category(ch) not in {"Cf", "Cc", "Zs"})
