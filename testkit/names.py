"""The standard held-out benchmark: names.txt (32,033 first names, from makemore, MIT) and makemore's split.

The file is not in this repository: it sits in ``shared/data/`` beside the checkout, where CI puts it too."""

from __future__ import annotations

import random
from pathlib import Path

NAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "names.txt"


def standard_split() -> tuple[list[str], list[str], list[str]]:
    """makemore's split: random.seed(42); shuffle; 80% train, 10% dev, 10% test."""
    words = NAMES.read_text().split()
    random.seed(42)
    random.shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return words[:n1], words[n1:n2], words[n2:]
