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

from core.errors import InvalidSeed
from core.pattern import normalise_pattern
from models.name_model import Candidate, NameModel

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


def _score(model: NameModel, parts: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """log P(name) (chain only: every option of one move has the same length) for several blocks of
    candidate rows in one vectorised pass; rows are zero-padded to the widest block."""
    width = max(rows.shape[1] for rows, _ in parts)
    rows = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]))) for r, _ in parts])
    scores = model.automaton_.log_probs_ids(rows, np.concatenate([lens for _, lens in parts]))
    return np.split(scores, np.cumsum([len(r) for r, _ in parts])[:-1])


def _substitution_rows(model: NameModel, ids: np.ndarray, lengths: np.ndarray, pos: np.ndarray):
    w, width = ids.shape
    k = model.automaton_.n_symbols - 1
    rows = np.repeat(ids[:, None, :], k, axis=1)
    rows[np.arange(w), :, pos] = np.arange(1, k + 1)
    return rows.reshape(w * k, width), np.repeat(lengths, k)


def _substitution_finish(log_w: np.ndarray, ids: np.ndarray, pos: np.ndarray) -> np.ndarray:
    w = len(ids)
    log_w = log_w.reshape(w, -1)
    log_w[np.arange(w), ids[np.arange(w), pos] - 1] = -np.inf  # a move changes the letter
    return _softmax_rows(log_w)


def substitution_probs(model: NameModel, ids: np.ndarray, lengths: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(W, V-1): P(letter s+1 at ``pos`` | the rest of the name), the current letter excluded."""
    (log_w,) = _score(model, [_substitution_rows(model, ids, lengths, pos)])
    return _substitution_finish(log_w, ids, pos)


def _inserted(ids: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Rows with one free column at ``slot`` (filled with 0) and the rest shifted right."""
    w, width = ids.shape
    cols = np.arange(width + 1)
    src = np.clip(cols[None, :] - (cols[None, :] > slot[:, None]), 0, width - 1)
    out = np.take_along_axis(ids, src, axis=1)
    out[np.arange(w), slot] = 0
    return out


def _insertion_rows(model: NameModel, ids: np.ndarray, lengths: np.ndarray, slot: np.ndarray):
    w = len(ids)
    k = model.automaton_.n_symbols - 1
    grown = _inserted(ids, slot)
    rows = np.repeat(grown[:, None, :], k, axis=1)
    rows[np.arange(w), :, slot] = np.arange(1, k + 1)
    return rows.reshape(w * k, grown.shape[1]), np.repeat(lengths + 1, k)


def insertion_probs(model: NameModel, ids: np.ndarray, lengths: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """(W, V-1): P(new letter s+1 at ``slot`` | the rest), the name one letter longer."""
    (log_w,) = _score(model, [_insertion_rows(model, ids, lengths, slot)])
    return _softmax_rows(log_w.reshape(len(ids), -1))


def _deleted(ids: np.ndarray) -> np.ndarray:
    """(W, width, width): row [w, j] is name w without its letter j."""
    width = ids.shape[1]
    cols = np.arange(width)
    src = np.minimum(cols[None, :] + (cols[None, :] >= cols[:, None]), width - 1)  # [j, m]
    return ids[:, src]


def _deletion_rows(ids: np.ndarray, lengths: np.ndarray):
    w, width = ids.shape
    return _deleted(ids).reshape(w * width, width), np.repeat(lengths - 1, width)


def _deletion_finish(log_w: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    log_w = log_w.reshape(len(lengths), -1)
    log_w[np.arange(log_w.shape[1])[None, :] >= lengths[:, None]] = -np.inf
    return _softmax_rows(log_w)


def deletion_probs(model: NameModel, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(W, width): P(deleting letter j) in proportion to P(what is left); 0 beyond the name's length."""
    (log_w,) = _score(model, [_deletion_rows(ids, lengths)])
    return _deletion_finish(log_w, lengths)


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


def step(
    model: NameModel, ids: np.ndarray, lengths: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One move for every walker (rows of ``ids``, padded to a common width that has room for one more).

    The three kinds' options are scored together in one pass; each is then drawn from exactly as
    ``substitution_probs`` / ``insertion_probs`` / ``deletion_probs`` give it."""
    ids, lengths = ids.copy(), lengths.copy()
    kind, movable = _draw(move_kind_probs(model, lengths), rng)
    kind[~movable] = -1  # no length this walker could move to: it stays
    sub, ins, dele = (np.flatnonzero(kind == k) for k in (SUB, INS, DEL))
    pos = (rng.random(sub.size) * lengths[sub]).astype(np.int64)
    slot = (rng.random(ins.size) * (lengths[ins] + 1)).astype(np.int64)
    sub_w, ins_w, del_w = _score(
        model,
        [
            _substitution_rows(model, ids[sub], lengths[sub], pos),
            _insertion_rows(model, ids[ins], lengths[ins], slot),
            _deletion_rows(ids[dele], lengths[dele]),
        ],
    )
    if sub.size:
        letter, ok = _draw(_substitution_finish(sub_w, ids[sub], pos), rng)
        ids[sub[ok], pos[ok]] = letter[ok] + 1
    if ins.size:
        letter, ok = _draw(_softmax_rows(ins_w.reshape(ins.size, -1)), rng)
        grown = _inserted(ids[ins], slot)[:, : ids.shape[1]]
        grown[np.arange(ins.size), slot] = letter + 1
        ids[ins[ok]] = grown[ok]
        lengths[ins[ok]] += 1
    if dele.size:
        gone, ok = _draw(_deletion_finish(del_w, lengths[dele]), rng)
        shrunk = _deleted(ids[dele])[np.arange(dele.size), gone]
        shrunk[np.arange(dele.size), lengths[dele] - 1] = 0
        ids[dele[ok]] = shrunk[ok]
        lengths[dele[ok]] -= 1
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
            names = _decode_rows(model, ids, lengths).tolist()
            for name, known in zip(names, model.known_.mask(names)):
                if name != seed_text and not known:
                    found[name] = None
        if len(found) >= size:
            break
    names = list(found)
    scores = model.log_probs(names)
    variants = [Variant(n, float(lp), False, Levenshtein.distance(seed_text, n)) for n, lp in zip(names, scores)]
    variants = [v for v in variants if np.isfinite(v.log_prob)]
    return sorted(variants, key=lambda v: v.nll_per_char)[:size]
