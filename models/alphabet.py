"""The characters a model knows: one object owns the symbol ids and encodes and decodes with them.

Symbol 0 is the end of a name; symbol ``i >= 1`` is ``chars[i - 1]``. The start marker ``BOS`` is
never a symbol: it only ever begins a context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

BOS = "^"  # start marker; it only ever appears as the first symbol of a context
END = 0  # symbol id of the end of a name
UNKNOWN = -1  # symbol id of a pattern's wildcard


@dataclass(frozen=True)
class Alphabet:
    chars: str
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if BOS in self.chars:
            raise ValueError(f"names may not contain the reserved start marker {BOS!r}")
        object.__setattr__(self, "_ids", {ch: i + 1 for i, ch in enumerate(self.chars)})

    @classmethod
    def of(cls, words: Iterable[str]) -> Alphabet:
        """The sorted characters of ``words``."""
        return cls("".join(sorted(set("".join(words)))))

    @property
    def n_symbols(self) -> int:
        """Characters plus the end symbol: the width of every probability row."""
        return len(self.chars) + 1

    def __len__(self) -> int:
        return len(self.chars)

    def __iter__(self) -> Iterator[str]:
        return iter(self.chars)

    def __contains__(self, ch: object) -> bool:
        return ch in self._ids

    def __str__(self) -> str:
        return self.chars

    def id(self, ch: str) -> int:
        """The symbol id of one character (KeyError for a character the model never saw)."""
        return self._ids[ch]

    def char(self, symbol: int) -> str:
        return self.chars[symbol - 1]

    def encode(self, word: str) -> np.ndarray | None:
        """Symbol ids of ``word``, or None if it uses a character the model never saw."""
        try:
            return np.array([self._ids[ch] for ch in word], dtype=np.int64)
        except KeyError:
            return None

    def encode_many(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids padded with END, lengths, known): one row per word; ``known`` is False where a
        word uses an unseen character (its row is then cut short and must not be used)."""
        lengths = np.array([len(w) for w in words], dtype=np.int64)
        ids = np.zeros((len(words), int(lengths.max(initial=0))), dtype=np.int64)
        known = np.ones(len(words), dtype=bool)
        for row, word in enumerate(words):
            for col, ch in enumerate(word):
                symbol = self._ids.get(ch)
                if symbol is None:
                    known[row] = False
                    break
                ids[row, col] = symbol
        return ids, lengths, known

    def decode_rows(self, ids: np.ndarray) -> list[str]:
        """Rows of symbol ids of one length (no wildcard, no end symbol) as strings, in one vectorised
        pass: sampling decodes tens of thousands of names at a time."""
        if ids.shape[1] == 0:
            return [""] * len(ids)
        codes = np.array([0] + [ord(c) for c in self.chars], dtype=np.uint32)
        return np.ascontiguousarray(codes[ids]).view(f"<U{ids.shape[1]}").ravel().tolist()

    def decode(self, ids: Iterable[int]) -> str:
        """Characters of symbol ids; a wildcard shows as ``*``."""
        return "".join("*" if i == UNKNOWN else self.chars[i - 1] for i in ids)
