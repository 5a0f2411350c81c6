"""Every project name of a registry, held compactly: sorted 64-bit hashes of its comparison keys.

A snapshot keeps two sorted ``uint64`` arrays: the hashes of the registry's exact keys (PEP 503 names on
PyPI, names on npm) and of its "too similar" keys (see ``availability.rules``): 8 bytes per name and key
kind, plus a directory on the hashes' top bits (half a byte per name) that makes a look-up a binary search
over one bucket of about 8. A name that is not there is reported present with probability about n / 2**64
(a hash collision: 2e-13 for 4 million names), so "free" from a snapshot is exact and "taken" is wrong
once in billions of billions. Snapshots are a hint: the shown names are re-checked live.

Hashing runs column by column over a byte matrix of many names at once (numpy), with the registry's
normalisation folded into the same pass through a byte table, so a batch of raw names is normalised,
hashed and looked up without a Python loop per name (millions per second).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from availability.rules import NPM, PYPI

log = logging.getLogger(__name__)

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_BATCH = 1 << 17  # names hashed per numpy pass: bounds the byte matrix (128k x longest name)


@dataclass(frozen=True)
class KeyKind:
    """How a registry turns a raw name into a key: a byte table (0 = drop the byte), and whether runs of
    ``-`` collapse into one (PEP 503)."""

    table: np.ndarray  # (256,) uint8
    collapse_dash: bool = False


def _table(lower: bool = False, dash: str = "", drop: str = "", extra: dict[str, str] | None = None) -> np.ndarray:
    t = np.arange(256, dtype=np.uint8)
    if lower:
        t[ord("A") : ord("Z") + 1] += 32
    for ch in dash:
        t[ord(ch)] = ord("-")
    for ch in drop:
        t[ord(ch)] = 0
    for src, dst in (extra or {}).items():
        t[ord(src)] = ord(dst)
        t[ord(src.upper())] = ord(dst)
    return t


KEY_KINDS = {
    (PYPI, "exact"): KeyKind(_table(lower=True, dash="_."), collapse_dash=True),  # pypi_normalise
    (PYPI, "similar"): KeyKind(_table(lower=True, drop="-_.", extra={"l": "1", "i": "1", "o": "0"})),  # ultranormalise
    (NPM, "exact"): KeyKind(_table()),  # the name itself
    (NPM, "similar"): KeyKind(_table(lower=True, drop="-_.")),  # npm_moniker
}


def hash_names(names: list[str], kind: KeyKind) -> np.ndarray:
    """64-bit hashes of the keys of ``names`` (FNV-1a over the key's UTF-8 bytes, then a splitmix64 mix)."""
    return hash_keys(names, (kind,))[0]


def hash_keys(names: list[str], kinds: tuple[KeyKind, ...], first_bytes: bool = False) -> list[np.ndarray]:
    """The hashes of ``names`` under each key kind; the names are encoded once per batch for all kinds.
    ``first_bytes`` appends each name's first byte (0 for an empty name): a scoped npm name's is '@'."""
    out = [np.empty(len(names), dtype=np.uint64) for _ in kinds] + (
        [np.zeros(len(names), np.uint8)] if first_bytes else []
    )
    for start in range(0, len(names), _BATCH):
        batch = _Batch.of(names[start : start + _BATCH])
        for array, kind in zip(out, kinds):
            array[start : start + batch.size] = batch.hash(kind)
        if first_bytes and batch.columns:
            first = out[-1][start : start + batch.size]
            first[batch.order[: len(batch.columns[0])]] = batch.columns[0]
    return out


@dataclass
class _Batch:
    """Names as one UTF-8 buffer, rows ordered longest first so column c touches only a prefix of rows."""

    columns: list[np.ndarray]  # columns[c]: byte c of every row that has one (a prefix of the rows)
    order: np.ndarray  # row i is name order[i]

    @classmethod
    def of(cls, names: list[str]) -> _Batch:
        data = "\x00".join(names).encode("utf-8", "surrogatepass")  # UTF-8 has no 0 byte but NUL itself
        buf = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(buf == 0)
        if names and len(ends) != len(names) - 1:  # a name with NUL in it: drop NULs, as the hash does
            return cls.of([n.replace("\x00", "") for n in names])
        ends = np.r_[ends, len(buf)].astype(np.int64)[: len(names)]
        starts = np.r_[0, ends[:-1] + 1].astype(np.int64)[: len(names)]
        lengths = ends - starts
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        alive = np.searchsorted(-lengths, -np.arange(int(lengths.max(initial=0))), side="left")
        starts = starts[order]
        return cls([buf[starts[:k] + c] for c, k in enumerate(alive)], order)

    @property
    def size(self) -> int:
        return len(self.order)

    def hash(self, kind: KeyKind) -> np.ndarray:
        h = np.full(self.size, _FNV_OFFSET, dtype=np.uint64)
        prev_dash = np.zeros(self.size, dtype=bool)
        drops = bool((kind.table == 0).any())
        with np.errstate(over="ignore"):
            for column in self.columns:  # rows [0, k) have a byte at this column
                k = len(column)
                byte = kind.table[column]
                mixed = (h[:k] ^ byte) * _FNV_PRIME
                if kind.collapse_dash:
                    dash = byte == ord("-")
                    keep = ~(dash & prev_dash[:k])
                    prev_dash[:k] = dash
                    h[:k] = np.where(keep, mixed, h[:k])
                elif drops:
                    h[:k] = np.where(byte != 0, mixed, h[:k])
                else:
                    h[:k] = mixed
            out = np.empty_like(h)
            out[self.order] = _mix(h)
            return out


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit, so the low bits are as good as the high."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _sorted_unique(hashes: np.ndarray) -> np.ndarray:
    return np.unique(hashes)  # sorted


class HashIndex:
    """Membership in sorted unique hashes. A plain binary search over millions of entries costs ~22 cache
    misses per look-up; a directory on the top bits (about ``BUCKET`` hashes per bucket, 4 bytes a
    bucket) leaves a binary search of ~4 steps inside one or two cache lines, for a whole batch at once."""

    BUCKET = 8

    def __init__(self, values: np.ndarray):
        self.values = values
        n = len(values)
        self.bits = max(1, int(np.ceil(np.log2(max(n / self.BUCKET, 2)))))
        self.shift = np.uint64(64 - self.bits)
        counts = np.bincount((np.asarray(values) >> self.shift).astype(np.int64), minlength=2**self.bits)
        self.starts = np.r_[0, np.cumsum(counts)].astype(np.int64 if n >= 2**31 else np.int32)
        self.depth = int(np.ceil(np.log2(counts.max(initial=0) + 1)))

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        if len(self.values) == 0:
            return np.zeros(len(hashes), dtype=bool)
        last = len(self.values) - 1
        bucket = (hashes >> self.shift).astype(np.int64)
        lo, end = self.starts[bucket].astype(np.int64), self.starts[bucket + 1].astype(np.int64)
        hi = end.copy()
        for _ in range(self.depth):  # lower bound of each hash within its bucket [lo, hi)
            mid = (lo + hi) >> 1
            right = (mid < hi) & (self.values[np.minimum(mid, last)] < hashes)
            lo = np.where(right, mid + 1, lo)
            hi = np.where(right, hi, mid)
        return (lo < end) & (self.values[np.minimum(lo, last)] == hashes)

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.starts.nbytes


@dataclass
class Snapshot:
    """The names of one registry at one time. ``taken`` / ``similar`` answer for many names at once."""

    registry: str
    exact: np.ndarray  # sorted unique uint64
    similar: np.ndarray  # sorted unique uint64
    source: str = ""
    built_at: float = field(default_factory=time.time)
    names: int = 0  # raw names read
    origin: dict = field(default_factory=dict)  # where to read the names again: availability.refresh.Origin

    def __post_init__(self):
        self.exact_index = HashIndex(self.exact)
        self.similar_index = HashIndex(self.similar)

    @classmethod
    def build(cls, registry: str, names: Iterable[str], source: str = "", origin: dict | None = None) -> Snapshot:
        names = [n for n in names if n]
        exact = _sorted_unique(hash_names(names, KEY_KINDS[registry, "exact"]))
        similar_names = [n for n in names if not n.startswith("@")] if registry == NPM else names
        similar = _sorted_unique(hash_names(similar_names, KEY_KINDS[registry, "similar"]))
        return cls(registry, exact, similar, source, time.time(), len(names), origin or {})

    def taken(self, names: list[str]) -> np.ndarray:
        """Per name: is its exact key in the registry (up to the hash false-positive rate)."""
        return self.lookup(names)[0]

    def similar_taken(self, names: list[str]) -> np.ndarray:
        """Per name: does an existing name share its "too similar" key (npm: never for scoped names)."""
        return self.lookup(names)[1]

    def possibly_free(self, names: list[str]) -> np.ndarray:
        """Neither taken nor too similar to a taken name: the filter for "only free names"."""
        taken, similar = self.lookup(names)
        return ~(taken | similar)

    def lookup(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(taken, too similar) per name, from one encoding of the batch."""
        kinds = (KEY_KINDS[self.registry, "exact"], KEY_KINDS[self.registry, "similar"])
        exact_h, similar_h, first = hash_keys(names, kinds, first_bytes=True)
        similar = self.similar_index.contains(similar_h)
        if self.registry == NPM:
            similar &= first != ord("@")  # scoped names have no "too similar" rule
        return self.exact_index.contains(exact_h), similar

    @property
    def nbytes(self) -> int:
        return self.exact_index.nbytes + self.similar_index.nbytes

    @property
    def false_positive_rate(self) -> float:
        """Chance that a name absent from the registry collides with one of the stored hashes."""
        return (len(self.exact) + len(self.similar)) / 2.0**64

    def describe(self) -> dict:
        return {
            "registry": self.registry,
            "source": self.source,
            "origin": self.origin,
            "built_at": self.built_at,
            "names": self.names,
            "keys": len(self.exact),
            "similar_keys": len(self.similar),
            "bytes": self.nbytes,
            "false_positive_rate": self.false_positive_rate,
        }


class SnapshotStore:
    """Snapshots on disk: ``<root>/<registry>-<stamp>/{exact,similar}.npy, meta.json`` and a pointer file
    ``<root>/<registry>.json`` replaced atomically, so a reader sees the old or the new one, never half."""

    KEEP = 2  # versions kept per registry (the current one and the one before)

    def __init__(self, root: Path):
        self.root = Path(root)

    def pointer(self, registry: str) -> Path:
        return self.root / f"{registry}.json"

    def save(self, snap: Snapshot) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        now = time.time_ns()  # names sort in the order they were written
        folder = (
            self.root / f"{snap.registry}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now // 10**9))}-{now % 10**9:09d}"
        )
        tmp = folder.with_name(folder.name + ".tmp")
        tmp.mkdir()
        np.save(tmp / "exact.npy", snap.exact)
        np.save(tmp / "similar.npy", snap.similar)
        (tmp / "meta.json").write_text(json.dumps(snap.describe(), indent=1))
        tmp.rename(folder)
        pointer_tmp = self.pointer(snap.registry).with_suffix(".json.tmp")
        pointer_tmp.write_text(json.dumps({"folder": folder.name}))
        os.replace(pointer_tmp, self.pointer(snap.registry))
        self._prune(snap.registry, keep=folder.name)
        return folder

    def load(self, registry: str) -> Snapshot | None:
        """The current snapshot, memory-mapped (workers on one machine share its pages), or None."""
        try:
            folder = self.root / json.loads(self.pointer(registry).read_text())["folder"]
            meta = json.loads((folder / "meta.json").read_text())
            exact = np.load(folder / "exact.npy", mmap_mode="r")
            similar = np.load(folder / "similar.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError) as err:
            if self.pointer(registry).exists():
                log.warning(
                    "availability snapshot for %s unreadable (%s); run `tnaas availability refresh`", registry, err
                )
            return None
        return Snapshot(
            registry,
            exact,
            similar,
            meta.get("source", ""),
            meta.get("built_at", 0.0),
            meta.get("names", 0),
            meta.get("origin") or {},
        )

    def meta(self, registry: str) -> dict | None:
        """The current snapshot's description (``Snapshot.describe``) without loading its hashes; None if none."""
        try:
            folder = self.root / json.loads(self.pointer(registry).read_text())["folder"]
            return json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError, KeyError):
            return None

    def _prune(self, registry: str, keep: str) -> None:
        folders = sorted(p for p in self.root.glob(f"{registry}-*") if p.is_dir())
        stale = [p for p in folders if p.name != keep][: max(0, len(folders) - self.KEEP)]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
