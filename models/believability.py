"""Believable names from the first request: an adversarial judge and a precomputed reservoir.

The corpus judge answers "which corpus is this most like", which favours extremes (over-long
compounds), not believable names. The adversarial judge answers "is this a real name or one of this
model's own samples?": trained per (corpus, model) on the corpus' names against the model's samples,
it learns the model's artifacts (rare letters and digits that smoothing spreads around, odd joins)
and its P(real) ranks candidates.

Scoring a fresh pool per request costs milliseconds; the reservoir does it once per model version:
a large sample, with names in the corpus, near-copies (edit distance 1 of a corpus name) and
names on the blocklist removed, scored, and cut to its most believable tier, per name length in the
corpus' proportions (P(real) grows with length, so a plain cut would show longer names than the
corpus has; see ``cut_tier``). A request then draws
n names from that tier with its own rng: microseconds, reproducible with a seed, and the tier is
large enough that 100 requests of 10 rarely see a name twice.

Measured by ``bench/believability.py``: on why a likelihood/coverage model was not used (it tells
real from sampled better, yet its top picks look worse) see the module docstring there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from corpora import corpus_hash
from models import artifact
from models.artifact import ArtifactInfo
from models.decency import BLOCKLIST_DIR
from models.strings import PackedNames


class Judge(Protocol):
    """What a reservoir needs of its judge (``models.believability_judge.BelievabilityJudge``, kept in its own
    module because it imports scikit-learn, which serving a reservoir does not)."""

    def believability(self, X: list[str]) -> np.ndarray: ...


NEGATIVES_PER_NAME = 5  # model samples per corpus name in the judge's training set
MAX_NEGATIVES = 30_000
# Candidates sampled for a reservoir. The tier cannot shrink below MIN_KEEP (repeats), so a bigger pool
# is what makes the tier more selective: on pokemon kn3 the top 12,000 of 100,000 were called real
# 0.45 / 0.40 (linear / forest detector), of 300,000 0.50 / 0.47 (bench/believability.py).
POOL = 300_000
TOP_SHARE = 0.2  # the reservoir keeps this share of the eligible candidates, best first ...
MIN_KEEP = 12_000  # ... but at least this many (100 requests of 10 then repeat < 5% of names) ...
MAX_KEEP = 20_000  # ... and at most this many
BY_LENGTH = True  # cut the tier per name length, in the corpus' proportions (see cut_tier)
# Candidates may be sampled with every next-letter distribution sharpened (p ** (1 / T), renormalised;
# lengths keep the corpus' prior): more typical names for the judge to choose from. Set only where
# bench/believability.py (T=0.8 against 1, the same judge, paired over 3 split seeds) measures a gain
# beyond its standard error on both detectors, in two runs: pokemon kn3 (docs/benchmarks.md, "Believability").
# A stack with no models serves within its first minute from a first reservoir: FIRST_POOL candidates cut to
# the same share the full tier keeps of POOL (so as selective, only smaller: repeats come sooner), replaced
# by the full reservoir once the stack has trained the rest (``models.training``).
FIRST_POOL = 30_000
FIRST_MIN_KEEP = 1_000
TEMPERATURE = 1.0  # every other (corpus, model): the model itself
TEMPERATURES: dict[tuple[str, str], float] = {("pokemon", "kn3"): 0.8}
# The judge's parameters (``BelievabilityJudge().get_params()``), spelled here so that a reservoir's version
# is known without importing scikit-learn: the command line answers from a reservoir in well under a second.
JUDGE_PARAMS = {"C": 0.1, "ngram_range": (1, 3)}


def temperature_for(corpus: str, model: str) -> float:
    """The temperature the reservoir of (``corpus``, ``model``) samples its candidates at."""
    return TEMPERATURES.get((corpus, model), TEMPERATURE)


def believability_info(corpus: str, model_info: ArtifactInfo, pool: int = POOL) -> ArtifactInfo:
    """Versioned by the name model it ranks, the judge's and the reservoir's parameters (``pool``: FIRST_POOL
    for a first reservoir) and the blocklist: what training stamps on a reservoir, and what a loaded one is
    compared with."""
    blocklist = (BLOCKLIST_DIR / "blocklist.tsv").read_text(encoding="utf-8")
    params = {
        "name_model": model_info.version,
        "judge": JUDGE_PARAMS,
        "negatives_per_name": NEGATIVES_PER_NAME,
        "max_negatives": MAX_NEGATIVES,
        "pool": pool,
        "tier": [TOP_SHARE, MIN_KEEP, MAX_KEEP] if pool == POOL else [MAX_KEEP / POOL, FIRST_MIN_KEEP],
        "tier_by_length": BY_LENGTH,
        "temperature": temperature_for(corpus, model_info.model),
        "blocklist": corpus_hash([blocklist]),
        "well_formed": True,  # no name starting or ending with a separator (``well_formed``)
    }
    return ArtifactInfo(corpus=corpus, model=model_info.model, corpus_hash=model_info.corpus_hash, params=params)


def judge_training_set(model, words: list[str], rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """The corpus' names (1) against the model's own samples that are not corpus names (0)."""
    known = set(words)
    size = min(MAX_NEGATIVES, NEGATIVES_PER_NAME * len(words))
    samples = [s for s in model.sample(size, rng) if s not in known]
    return list(words) + samples, np.r_[np.ones(len(words)), np.zeros(len(samples))].astype(int)


class NearCopies:
    """Is a name within edit distance 1 of a corpus name (equal, one letter added, dropped or changed)?

    Indexed by deletion neighbourhoods: a substitution at position i leaves the same string when
    position i is deleted from both, so every check is a handful of set lookups.
    """

    def __init__(self, words: list[str]):
        self.words = frozenset(words)
        self.deletions = frozenset(w[:i] + w[i + 1 :] for w in words for i in range(len(w)))
        self.substitutions = frozenset((w[:i] + w[i + 1 :], i) for w in words for i in range(len(w)))

    def near(self, name: str) -> bool:
        if name in self.words or name in self.deletions:  # equal, or one letter dropped from a corpus name
            return True
        for i in range(len(name)):
            shorter = name[:i] + name[i + 1 :]
            if shorter in self.words or (shorter, i) in self.substitutions:  # one letter added / changed
                return True
        return False

    def mask(self, names) -> np.ndarray:
        return np.fromiter((self.near(n) for n in names), dtype=bool, count=len(names))


@dataclass(frozen=True)
class Reservoir:
    """The believable tier of one (corpus, model, version): names best first, their P(real) and log P.

    Loaded, its names and columns are arrays over the mapped artifact (models.artifact): a machine's
    workers share one copy."""

    names: Sequence[str]
    scores: np.ndarray
    log_probs: np.ndarray
    info: ArtifactInfo

    def __len__(self) -> int:
        return len(self.names)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of n distinct names, uniformly from the tier, best first (a few microseconds)."""
        picked = rng.choice(len(self.names), size=min(n, len(self.names)), replace=False)
        return np.sort(picked)  # names are stored best first

    def save(self, path: Path) -> None:
        arrays = PackedNames.of(self.names).to_arrays("names") | {
            "scores": np.asarray(self.scores, dtype=np.float32),
            "log_probs": np.asarray(self.log_probs, dtype=np.float32),
        }
        artifact.save_arrays(path, self.info.header(), arrays)

    @classmethod
    def load(cls, path: Path) -> Reservoir:
        info, arrays = artifact.open_checked(path)
        return cls(PackedNames.from_arrays(arrays, "names"), arrays["scores"], arrays["log_probs"], info)


def tier_size(eligible: int, pool: int = POOL) -> int:
    """Names the tier keeps of ``eligible``; from a first reservoir's smaller pool, the share the full
    tier keeps of its pool, at least FIRST_MIN_KEEP."""
    if pool < POOL:
        return min(eligible, max(FIRST_MIN_KEEP, eligible * MAX_KEEP // POOL))
    return min(eligible, max(MIN_KEEP, min(MAX_KEEP, int(TOP_SHARE * eligible))))


def well_formed(name: str) -> bool:
    """A name one could give a project: it starts and ends with a letter or a digit. A model that learnt
    ``-``, ``_`` and ``.`` inside names also starts or ends a few with them (``-ber``, ``jast-``)."""
    return bool(name) and name[0].isalnum() and name[-1].isalnum()


def eligible_candidates(
    model, near: NearCopies, rng: np.random.Generator, pool: int = POOL, temperature: float = TEMPERATURE
) -> list[str]:
    """Distinct well-formed samples that are new (not in the corpus, not a near-copy of a corpus name)."""
    distinct = [n for n in dict.fromkeys(model.sample(pool, rng, temperature)) if well_formed(n)]
    return [n for n, close in zip(distinct, near.mask(distinct)) if not close]


def length_shares(words, stratum: Callable[[str], object] = len) -> dict:
    """Share of the corpus' names of each length (or of each ``stratum``: what the tier keeps in the
    corpus' proportions)."""
    counts = Counter(stratum(w) for w in words)
    total = sum(counts.values())
    return {key: c / total for key, c in counts.items()}


def length_quotas(available: dict[int, int], shares: dict[int, float], keep: int) -> tuple[dict[int, int], int]:
    """How many names of each length the tier keeps: ``keep`` split in proportion to ``shares``
    (largest remainders), a length with too few candidates giving its shortfall to the others in
    proportion to their shares. Returns the quotas and what is left for lengths the corpus never has
    (non-zero only when the corpus' own lengths run out of candidates)."""
    quotas = dict.fromkeys(available, 0)
    remaining = min(keep, sum(available.values()))
    open_ = [length for length in sorted(available) if shares.get(length, 0) > 0 and available[length] > 0]
    while remaining > 0 and open_:
        weights = np.array([shares[length] for length in open_])
        ideal = remaining * weights / weights.sum()
        alloc = np.floor(ideal).astype(int)
        alloc[np.argsort(-(ideal - alloc), kind="stable")[: remaining - alloc.sum()]] += 1
        for length, want in zip(open_, alloc):
            take = min(int(want), available[length] - quotas[length])
            quotas[length] += take
            remaining -= take
        open_ = [length for length in open_ if quotas[length] < available[length]]
    return quotas, remaining


def cut_tier(
    names: list[str],
    scores: np.ndarray,
    keep: int,
    shares: dict | None,
    blocklist,
    stratum: Callable[[str], object] = len,
) -> list[int]:
    """Indices of the tier, best first: the best-scored unblocked names of each length, as many of each
    as ``length_quotas`` gives (``shares=None``: the plain cut, the ``keep`` best whatever their length).

    Why per length: P(real) grows with the evidence a name offers, so the plain cut favours long
    names (deployed pokemon kn3: 8.1 letters against the corpus' 7.7, pypi kn5 15.3 against 12.6); cut per
    length, the shown names look like the corpus in length too. (``stratum``: what to keep in the
    corpus' proportions instead of the length; ``shares`` are then per stratum.)"""
    ranked = np.argsort(-scores, kind="stable").tolist()
    if shares is None:
        return _unblocked(ranked, names, blocklist, keep)
    by_length: dict = {}
    for i in ranked:  # best first within each length
        by_length.setdefault(stratum(names[i]), []).append(i)
    # The blocklist is asked only about the names a length's quota reaches (most of a big pool is never
    # shown); a length that runs short is counted exactly and the quotas are split again.
    available = {length: len(ids) for length, ids in by_length.items()}
    while True:
        quotas, left = length_quotas(available, shares, keep)
        taken = {length: _unblocked(by_length[length], names, blocklist, quota) for length, quota in quotas.items()}
        short = {length: len(ids) for length, ids in taken.items() if len(ids) < quotas[length]}
        if not short:
            break
        available |= short
    chosen = {i for ids in taken.values() for i in ids}
    rest = [i for i in ranked if i not in chosen and shares.get(stratum(names[i]), 0) == 0]
    chosen.update(_unblocked(rest, names, blocklist, left))  # lengths the corpus lacks fill what its own could not
    return [i for i in ranked if i in chosen]


def _unblocked(ids: list[int], names: list[str], blocklist, most: int) -> list[int]:
    """The first ``most`` of ``ids`` whose names the blocklist lets through."""
    kept: list[int] = []
    for i in ids:
        if len(kept) >= most:
            break
        if not blocklist.blocked(names[i]):
            kept.append(i)
    return kept


def score_candidates(
    model,
    judge: Judge,
    near: NearCopies,
    rng: np.random.Generator,
    pool: int = POOL,
    temperature: float = TEMPERATURE,
) -> tuple[list[str], np.ndarray]:
    """The eligible candidates of a reservoir and their P(real)."""
    names = eligible_candidates(model, near, rng, pool, temperature)
    return names, judge.believability(names) if names else np.zeros(0)


def build_reservoir(
    model,
    judge: Judge,
    near: NearCopies,
    blocklist,
    info: ArtifactInfo,
    rng: np.random.Generator,
    pool: int = POOL,
    by_length: bool = BY_LENGTH,
    temperature: float = TEMPERATURE,
    first: bool = False,
) -> Reservoir:
    """Sample ``pool`` names (at ``temperature``), keep the eligible ones, score them, cut to the
    believable tier (per length of the corpus' names, those ``near`` indexes, unless ``by_length`` is off;
    ``first``: a first reservoir's tier, see FIRST_POOL)."""
    names, scores = score_candidates(model, judge, near, rng, pool, temperature)
    keep = tier_size(len(names), pool) if first else None
    return reservoir_from(names, scores, model, near, blocklist, info, by_length, keep)


def reservoir_from(
    names: list[str],
    scores: np.ndarray,
    model,
    near: NearCopies,
    blocklist,
    info: ArtifactInfo,
    by_length: bool,
    keep: int | None = None,
    stratum: Callable[[str], object] = len,
) -> Reservoir:
    """The tier of ``tier_size`` names (``keep``: that many instead; ``stratum``: cut per something
    other than the length; both benchmark levers)."""
    shares = length_shares(near.words, stratum) if by_length else None
    size = tier_size(len(names)) if keep is None else min(keep, len(names))
    chosen = cut_tier(names, scores, size, shares, blocklist, stratum)
    kept = [names[i] for i in chosen]
    return Reservoir(kept, scores[chosen], model.log_probs(kept) if kept else np.zeros(0), info)
