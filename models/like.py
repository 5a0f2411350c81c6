"""Names like a given one: a short walk of single-letter edits under the corpus model.

From the seed, each walker takes up to ``MAX_EDITS`` steps (hoopa -> roopa -> roopo -> roepo ...). A step
is one of three moves, picked in proportion to the length prior at the length it leads to (p(L) for a
substitution, p(L+1) for an insertion, p(L-1) for a deletion), so the walk drifts towards lengths the
corpus has and never to one it cannot make:

- substitute: a position uniformly, then its letter from the exact conditional given every other letter
  (the completion posterior of the pattern with a single ``*`` there), the current letter excluded;
- insert: a slot uniformly, then the new letter from its exact conditional given the rest;
- delete: the letter whose removal leaves the most probable name, in proportion to that probability.

With one unknown the conditional is P(name with c) / sum over c' of P(name with c'), so each move scores
its few alternatives in one vectorised pass over the automaton (all walkers at once) instead of running
forward filtering per walker; ``tests/test_like.py`` checks the moves against ``forward_filter`` /
``marginals`` and brute-force enumeration. Every visited name is a candidate unless it is the seed or a
corpus name; candidates are scored with the full model (length prior included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

from models.name_model import Candidate, NameModel
from models.pattern import normalise_pattern
from tnaas.errors import InvalidSeed

MAX_EDITS = 3
MAX_ROUNDS = 4  # bounded: rounds of fresh walkers when the first did not find enough distinct names
SUB, INS, DEL = 0, 1, 2


@dataclass(frozen=True)
class Variant(Candidate):
    edits: int = 1  # Levenshtein distance from the seed


def encode_seed(model: NameModel, seed: str) -> np.ndarray:
    """The seed's symbol ids; a clear error for an empty, over-long or impossible seed."""
    text = normalise_pattern(seed)
    corpus = model.corpus
    if not text:
        raise InvalidSeed("Give a name to start from, e.g. `like kafka`.")
    if "*" in text:
        raise InvalidSeed("`like` takes a whole name, not a pattern; to fill in * use a pattern alone, e.g. `k*fk*`.")
    if len(text) > model.max_len:
        raise InvalidSeed(f"'{text[:40]}' is {len(text)} characters long; `like` takes names of up to {model.max_len}.")
    ids = model.automaton_.encode(text)
    if ids is None:
        alphabet = model.automaton_.alphabet
        strange = ", ".join(repr(ch) for ch in sorted(set(text) - set(alphabet)))
        raise InvalidSeed(f"No {corpus} name contains {strange}. Letters seen in {corpus}: {alphabet}")
    return ids


# -- the three moves: exact conditional weights for many walkers at once ----------------------------
def _softmax_rows(log_w: np.ndarray) -> np.ndarray:
    """Rows of probabilities from log weights; an all -inf row (no possible move) stays all zero."""
    top = log_w.max(axis=1, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    w = np.exp(log_w - safe)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def substitution_probs(model: NameModel, ids: np.ndarray, lengths: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(W, V-1): P(letter s+1 at ``pos`` | the rest of the name), the current letter excluded."""
    a = model.automaton_
    w, width = ids.shape
    k = a.n_symbols - 1
    rows = np.repeat(ids[:, None, :], k, axis=1)
    rows[np.arange(w), :, pos] = np.arange(1, k + 1)
    log_w = a.log_probs_ids(rows.reshape(w * k, width), np.repeat(lengths, k)).reshape(w, k)
    log_w[np.arange(w), ids[np.arange(w), pos] - 1] = -np.inf
    return _softmax_rows(log_w)


def _inserted(ids: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Rows with one free column at ``slot`` (filled with 0) and the rest shifted right."""
    w, width = ids.shape
    cols = np.arange(width + 1)
    src = np.clip(cols[None, :] - (cols[None, :] > slot[:, None]), 0, width - 1)
    out = np.take_along_axis(ids, src, axis=1)
    out[np.arange(w), slot] = 0
    return out


def insertion_probs(model: NameModel, ids: np.ndarray, lengths: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """(W, V-1): P(new letter s+1 at ``slot`` | the rest), the name one letter longer."""
    a = model.automaton_
    w = len(ids)
    k = a.n_symbols - 1
    grown = _inserted(ids, slot)
    rows = np.repeat(grown[:, None, :], k, axis=1)
    rows[np.arange(w), :, slot] = np.arange(1, k + 1)
    log_w = a.log_probs_ids(rows.reshape(w * k, grown.shape[1]), np.repeat(lengths + 1, k)).reshape(w, k)
    return _softmax_rows(log_w)


def _deleted(ids: np.ndarray) -> np.ndarray:
    """(W, width, width): row [w, j] is name w without its letter j."""
    width = ids.shape[1]
    cols = np.arange(width)
    src = np.minimum(cols[None, :] + (cols[None, :] >= cols[:, None]), width - 1)  # [j, m]
    return ids[:, src]


def deletion_probs(model: NameModel, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(W, width): P(deleting letter j) in proportion to P(what is left); 0 beyond the name's length."""
    w, width = ids.shape
    rows = _deleted(ids)
    log_w = model.automaton_.log_probs_ids(rows.reshape(w * width, width), np.repeat(lengths - 1, width)).reshape(w, width)
    log_w[np.arange(width)[None, :] >= lengths[:, None]] = -np.inf
    return _softmax_rows(log_w)


def move_kind_probs(model: NameModel, lengths: np.ndarray) -> np.ndarray:
    """(W, 3): substitute / insert / delete in proportion to p(L), p(L+1), p(L-1) of the length prior."""
    p = np.r_[model.length_prior_.probs_, 0.0]
    w = np.stack([p[lengths], p[np.minimum(lengths + 1, len(p) - 1)], p[lengths - 1]], axis=1)
    w[lengths >= model.max_len, INS] = 0.0
    w[lengths <= 1, DEL] = 0.0
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One column per row from row probabilities; (choice, row could move)."""
    cdf = np.cumsum(probs, axis=1)
    movable = cdf[:, -1] > 0
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), probs.shape[1] - 1), movable


def step(model: NameModel, ids: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One move for every walker (rows of ``ids``, padded to a common width that has room for one more)."""
    ids, lengths = ids.copy(), lengths.copy()
    kind, movable = _draw(move_kind_probs(model, lengths), rng)
    kind[~movable] = -1  # no length this walker could move to: it stays
    if (sel := np.flatnonzero(kind == SUB)).size:
        pos = (rng.random(sel.size) * lengths[sel]).astype(np.int64)
        letter, ok = _draw(substitution_probs(model, ids[sel], lengths[sel], pos), rng)
        ids[sel[ok], pos[ok]] = letter[ok] + 1
    if (sel := np.flatnonzero(kind == INS)).size:
        slot = (rng.random(sel.size) * (lengths[sel] + 1)).astype(np.int64)
        letter, ok = _draw(insertion_probs(model, ids[sel], lengths[sel], slot), rng)
        grown = _inserted(ids[sel], slot)[:, : ids.shape[1]]
        grown[np.arange(sel.size), slot] = letter + 1
        ids[sel[ok]] = grown[ok]
        lengths[sel[ok]] += 1
    if (sel := np.flatnonzero(kind == DEL)).size:
        gone, ok = _draw(deletion_probs(model, ids[sel], lengths[sel]), rng)
        shrunk = _deleted(ids[sel])[np.arange(sel.size), gone]
        shrunk[np.arange(sel.size), lengths[sel] - 1] = 0
        ids[sel[ok]] = shrunk[ok]
        lengths[sel[ok]] -= 1
    return ids, lengths


def _decode_rows(model: NameModel, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rows of ids as a numpy unicode array (one vectorised pass, no per-name join)."""
    codes = np.r_[0, np.array([ord(c) for c in model.automaton_.alphabet], dtype=np.uint32)].astype(np.uint32)
    chars = codes[ids]
    chars[np.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 0
    return np.ascontiguousarray(chars).view(f"<U{ids.shape[1]}").ravel()


def like(model: NameModel, seed: str, size: int, rng: np.random.Generator, max_edits: int = MAX_EDITS) -> list[Variant]:
    """Up to ``size`` distinct believable names 1..``max_edits`` edits from ``seed``, best first (nats per
    character: names of different lengths compete fairly);
    never the seed itself, never a corpus name."""
    start = encode_seed(model, seed)
    seed_text = model.automaton_.decode(start)
    width = min(len(start) + max_edits, model.max_len) + 1  # room for every insertion, plus the one in flight
    found: dict[str, None] = {}
    for _ in range(MAX_ROUNDS):
        walkers = max(size, 16)
        ids = np.zeros((walkers, width), dtype=np.int64)
        ids[:, : len(start)] = start
        lengths = np.full(walkers, len(start), dtype=np.int64)
        for _ in range(max_edits):
            ids, lengths = step(model, ids, lengths, rng)
            for name in _decode_rows(model, ids, lengths).tolist():
                if name != seed_text and name not in model.known_:
                    found[name] = None
        if len(found) >= size:
            break
    names = list(found)
    scores = model.log_probs(names)
    variants = [Variant(n, float(lp), False, Levenshtein.distance(seed_text, n)) for n, lp in zip(names, scores)]
    variants = [v for v in variants if np.isfinite(v.log_prob)]
    return sorted(variants, key=lambda v: v.nll_per_char)[:size]
