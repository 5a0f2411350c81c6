"""Lists and sets of names held in plain arrays, so an artifact maps them instead of unpickling strings.

A Python ``str`` costs ~50 bytes plus its characters, and a list or a set of 20,000 of them is private
to the process that built it. These keep names as UTF-8 bytes in numpy arrays: mapped from an artifact
(``models.artifact``), shared by every worker of a machine, decoded only when a name is asked for.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence, Set

import numpy as np


class PackedNames(Sequence):
    """An immutable list of names: their UTF-8 bytes end to end (``data``) and where each ends (``ends``)."""

    def __init__(self, data: np.ndarray, ends: np.ndarray):
        self.data = data
        self.ends = ends

    @classmethod
    def of(cls, names: Iterable[str]) -> PackedNames:
        encoded = [name.encode() for name in names]
        ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), ends)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_utf8": self.data, f"{prefix}_ends": self.ends}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> PackedNames:
        return cls(arrays[f"{prefix}_utf8"], arrays[f"{prefix}_ends"])

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = operator.index(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(index)
        start = int(self.ends[i - 1]) if i else 0
        return self.data[start : int(self.ends[i])].tobytes().decode()

    def tolist(self) -> list[str]:
        raw = self.data.tobytes()
        starts = [0, *self.ends[:-1].tolist()]
        return [raw[s:e].decode() for s, e in zip(starts, self.ends.tolist())]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def __eq__(self, other) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and self.tolist() == list(other)
        return NotImplemented

    __hash__ = None


class NameSet(Set):
    """An immutable set of names: their UTF-8 bytes, sorted, in one fixed-width array; ``mask`` looks up
    many names in one binary search (a request checks its whole batch of candidates at once)."""

    def __init__(self, keys: np.ndarray):
        self.keys = keys  # dtype S<width>, sorted and distinct

    @classmethod
    def of(cls, names: Iterable[str]) -> NameSet:
        encoded = sorted({name.encode() for name in names})
        width = max((len(e) for e in encoded), default=1) or 1
        return cls(np.array(encoded, dtype=f"S{width}"))

    def index(self, names: Sequence[str]) -> np.ndarray:
        """Where each of ``names`` is in the sorted keys; -1 for those not in the set."""
        encoded = [name.encode() for name in names]
        if not encoded or not len(self.keys):
            return np.full(len(encoded), -1, dtype=np.int64)
        width = self.keys.dtype.itemsize
        query = np.array(encoded, dtype=self.keys.dtype)  # a longer name is cut here: ``fits`` rules it out
        at = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        fits = np.fromiter((len(e) <= width for e in encoded), dtype=bool, count=len(encoded))
        return np.where(fits & (self.keys[at] == query), at, -1)

    def mask(self, names: Sequence[str]) -> np.ndarray:
        """Which of ``names`` are in the set."""
        return self.index(names) >= 0

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.mask([name])[0])

    @classmethod
    def _from_iterable(cls, names) -> frozenset:
        """What ``&``, ``|`` and ``-`` with another set give: a plain frozenset."""
        return frozenset(names)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in self.keys.tolist())
