"""Believability: would an independent detector take the names we show for real ones?

Measured as a new user meets them: per corpus, every model is trained on 60% of the names (the rest
is never seen by the models or the rankings). A detector is trained on held-out real names against
plain samples of the model, and each ranking strategy answers 100 requests of n names; per strategy:

- called real: share of shown names the detector calls real, next to the share of held-out real
  names it calls real (5-fold cross-fitting: every held-out name is judged by a detector that did
  not see it, nor a near-duplicate of it: held-out names within edit distance 2 of each other, such as
  spider-man / spider-woman, stay in one fold; plain stratified folds, ``--stratified-folds``, let
  the detector learn a name from its twin and inflate this reference by 0.01-0.03 on pokemon and
  0.05 on superheroes) and of real names from the training split (real, but as unseen by the
  detector as the shown names, and from the same 60% the shown names are made from). These are
  called real far less often (pokemon 0.41 vs 0.61): not leakage (grouping does not move them) but
  the detector's fake class, samples of a model trained on that 60%, is full of their n-grams;
- near-copies: shown names within edit distance 1 of a name the model knows (its 60%);
- distinct: distinct names / names shown over the 100 requests; novelty: share not in the 60%;
- ms per request: from the loaded model to the n names (sampling and scoring included).

Two detectors, both on binary character 2-5-grams plus the length: ``linear`` (logistic regression:
the issue's detector, which reproduces its "before" table) and ``forest`` (a random forest, a model
family no ranking here uses; the adversarial judge is itself linear over character n-grams).

Strategies: ``random`` (n of a pool of 100, random order); ``judge`` (today's ranking: the corpus
judge's P(corpus) over a pool of 100, models.ranking with 20% exploration); ``reservoir`` (the
adversarial judge's believable tier, models.believability, cut per name length in the 60%'s
proportions, candidates sampled at the pair's temperature, models.believability.temperature_for;
judge and reservoir trained on the 60%); ``reservoir T=t`` (``--temperatures``: the same judge, candidates
sampled at t; ``--temperatures 1`` is the untempered reservoir); ``plain tier`` (the same scored candidates cut
to the best whatever their length: the cut before the length fix, side by side in one run).
``reservoir cover k [-m]`` (``--coverage k[:m]``): the same scored candidates, only those whose character
k-grams the 60% all has (all but m), cut per length; the levers table gives each tier's size.

``--fresh-stack``: what a fresh stack shows before any vote against the default alone (bench.fresh_stack).

Run: ``.venv/bin/python -m bench.believability`` (all corpora x kn5,kn3,markov3,markov2; 30-60 min
on 2 cores) or ``--corpora pokemon,pypi --models kn5``; ``--write-defaults`` records the best model per
corpus in models/default_models.json (see ``choose_default``).
``--worker-path``: the ranking cost per request through jobs.pipeline on the models `tnaas train` deployed.

What did not work (kept here so nobody retries it blind): a gradient-boosted judge over the chain's
per-character likelihood, context coverage, n-gram coverage, model agreement (log-ratios of
low-order models fitted on real names vs on samples) and the corpus judge, trained with
cross-fitting, tells held-out real names from samples better (ROC AUC 0.66-0.77 vs 0.52-0.62) but its
top picks are names with low likelihood (real new names are less predictable than samples), which
look worse and are called real no more often than random picks. ``--style`` (P(real) times the corpus
judge's P(asked corpus)) is worse on every corpus over 3 splits (pokemon kn3 -0.14 / -0.13 against the
reservoir). Tempered candidates (``--temperatures 0.8``) help pokemon kn3 a little and nothing else
(``models.believability.TEMPERATURES``; docs/models.md). A coverage filter (``--coverage``: only candidates whose every
character k-gram of ``^name$`` the 60% has, ``Coverage`` below; same candidates, cut per
length) is worse or level on every pair, paired over split seeds 3-10 (linear / forest, minus the
reservoir): cats kn5 k=2 -0.045 ± 0.023 / -0.042 ± 0.025, k=3 with at most 2 unseen -0.039 ± 0.020 /
-0.034 ± 0.019 (both leave 15-17k eligible: a 12,000 tier, distinct 0.956; against the same-sized
``keep 12000`` tier -0.041 / -0.044); dogs kn5 k=2 +0.009 ± 0.010 / +0.019 ± 0.009, all of it the smaller
tier (against ``keep 12000`` -0.011 ± 0.012 / +0.001 ± 0.011); pokemon kn3 (seeds 3-6) k=3 -0.018 ±
0.007 / -0.017 ± 0.008, k=3 with 1 unseen +0.009 ± 0.009 / +0.003 ± 0.007, k=4 with 1 unseen -0.052 /
-0.045. Strict k=3 leaves 200-600 names on cats and dogs (distinct 0.26 / 0.40) and is worse still
(cats -0.087 / -0.097). Most held-out real names fail the filter themselves (split 3, k=3 / k=2:
cats 3% / 10% pass, dogs 5% / 49%, pokemon kn3 19% at k=3; of the candidates 0.2% / 11%, 0.3% / 27%,
25% at T=1): new real names are mostly made of joins the 60% lacks, and so is the detector's real class;
keeping only seen joins keeps names unlike most real ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist
from rich.console import Console
from rich.table import Table
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from core.model_names import TRAINED_BY_DEFAULT
from corpora import corpus_names, load_corpus
from models.artifact import ArtifactInfo
from models.believability import POOL as POOL_RESERVOIR
from models.believability import (
    NearCopies,
    eligible_candidates,
    judge_training_set,
    reservoir_from,
    score_candidates,
    temperature_for,
)
from models.believability_judge import BelievabilityJudge
from models.catalog import make_lm
from models.decency import default_blocklist
from models.judge import CorpusJudge
from models.name_model import NameModel
from models.ranking import candidate_rows, choose_shown, pool_scores

log = logging.getLogger(__name__)
DEFAULTS_FILE = Path(__file__).resolve().parents[1] / "models" / "default_models.json"
TRAIN_SHARE = 0.6
REQUESTS = 100
POOL = 100
EXPLORE = 0.2
MAX_DETECTOR_REAL = 3000  # held-out names per detector (big corpora are subsampled)
NEAR_DUPLICATE = 2  # --group-folds: held-out names this close (edit distance) share a fold
DETECTORS = ("linear", "forest")
TARGETS = {"called_real_gap": 0.03, "near_copies": 0.05, "distinct": 0.95, "novelty": 1.0, "ms": 1.0}


def split_corpus(words: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    names = sorted(set(words))
    random.Random(seed).shuffle(names)
    cut = int(TRAIN_SHARE * len(names))
    return names[:cut], names[cut:]


# -- levers measured here and not taken (see the module docstring) -------------------------------------
def shape_of(name: str) -> str:
    """The name's make-up: letters only, with digits, or with separators (and no digit)."""
    if any(ch.isdigit() for ch in name):
        return "digits"
    return "letters" if name.isalpha() else "separators"


def length_and_shape(name: str) -> tuple[int, str]:
    """``--by-shape``: the tier kept in the corpus' proportions of length and make-up together."""
    return len(name), shape_of(name)


class Coverage:
    """Is every character ``k``-gram of a name, with its boundary marks (``^name$``), one the corpus'
    names have (``missing``: all but at most that many)? A model's backoff joins pieces the corpus never
    joins (cats kn5: ``ctbuggar``, ``sndbpeacar``, ``lillld``); this keeps such names out without a score.
    A filter, not a ranking feature. Measured (bench/believability.py ``--coverage``) and not used: worse
    or level on cats, dogs and pokemon (cats kn5 k=2 -0.045 / -0.042 called real against the reservoir);
    most held-out real names fail it themselves (cats, k=3: 97%)."""

    def __init__(self, words, k: int = 3, missing: int = 0):
        self.k = k
        self.missing = missing
        self.grams = frozenset(g for w in words for g in self.grams_of(w))

    def grams_of(self, name: str) -> list[str]:
        marked = f"^{name}$"
        return [marked[i : i + self.k] for i in range(len(marked) - self.k + 1)]

    def unseen(self, name: str) -> int:
        """How many of the name's k-grams the corpus' names never have."""
        return sum(g not in self.grams for g in self.grams_of(name))

    def covered(self, name: str) -> bool:
        return self.unseen(name) <= self.missing

    def mask(self, names) -> np.ndarray:
        return np.fromiter((self.covered(n) for n in names), dtype=bool, count=len(names))


def near_duplicate_groups(names: list[str], distance: int = 2, share: float = 0.25) -> np.ndarray:
    """Group id per name: names linked by a chain of near-twins (at most ``distance`` edits and at most
    ``share`` of the longer name: nidoranf / nidoranm, spider-man / spider-woman) share a group.
    Cross-fitting keeps a group in one fold, so no name is judged by a model that saw its twin. The
    share keeps short names apart (max / mac would chain most of a dog-name list into one group)."""
    if not names:
        return np.zeros(0, dtype=int)
    close = cdist(names, names, scorer=Levenshtein.distance, score_cutoff=distance, dtype=np.int32, workers=-1)
    lengths = np.array([len(n) for n in names])
    linked = (close <= distance) & (close <= share * np.maximum.outer(lengths, lengths))
    return connected_components(sparse.csr_matrix(linked), directed=False)[1]


# -- the detectors ------------------------------------------------------------------------------------
def _features(vectorizer: CountVectorizer, names: list[str], fit: bool = False):
    marked = [f"^{n}$" for n in names]
    grams = vectorizer.fit_transform(marked) if fit else vectorizer.transform(marked)
    return sparse.hstack([grams, sparse.csr_matrix(np.array([[len(n) / 10] for n in names]))]).tocsr()


def _classifier(family: str):
    if family == "linear":
        return LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
    return RandomForestClassifier(
        n_estimators=200, min_samples_leaf=2, class_weight="balanced", n_jobs=2, random_state=0
    )


@dataclass
class Detector:
    """Cross-fitted: ``k`` detectors, each trained on 4/5 of (held-out real, samples). With ``grouped``
    near-duplicate held-out names stay in one fold, so no fold is judged by a detector that saw a
    near-twin of its names (see this module's docstring for what that changes: little)."""

    family: str
    grouped: bool = False
    heldout_called_real: float = 0.0
    folds: list = field(default_factory=list)

    def fit(self, real: list[str], fake: list[str], seed: int = 0, k: int = 5) -> Detector:
        names = real + fake
        y = np.r_[np.ones(len(real)), np.zeros(len(fake))]
        called = np.zeros(len(real))
        if self.grouped:
            groups = np.r_[near_duplicate_groups(real, NEAR_DUPLICATE), len(real) + np.arange(len(fake))]
            splits = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(names, y, groups)
        else:
            splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(names, y)
        for train, test in splits:
            vectorizer = CountVectorizer(analyzer="char", ngram_range=(2, 5), binary=True)
            model = _classifier(self.family).fit(_features(vectorizer, [names[i] for i in train], fit=True), y[train])
            self.folds.append((vectorizer, model))
            test_real = [i for i in test if i < len(real)]
            called[test_real] = model.predict_proba(_features(vectorizer, [names[i] for i in test_real]))[:, 1] > 0.5
        self.heldout_called_real = float(called.mean())
        return self

    def called_real(self, names: list[str]) -> float:
        """Share called real, averaged over the fold detectors (none of which saw these names)."""
        return float(np.mean([np.mean(m.predict_proba(_features(v, names))[:, 1] > 0.5) for v, m in self.folds]))


# -- the ranking strategies ---------------------------------------------------------------------------
@dataclass
class Shown:
    names: list[str]
    ms: list[float]


def run_random(model: NameModel, n: int) -> Shown:
    names, ms = [], []
    for seed in range(REQUESTS):
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        pool = model.generate(POOL, rng)
        picked = [pool[i].name for i in rng.choice(len(pool), min(n, len(pool)), replace=False)]
        ms.append(1000 * (time.perf_counter() - start))
        names += picked
    return Shown(names, ms)


def run_judge(model: NameModel, corpus: str, model_name: str, judge: CorpusJudge, n: int) -> Shown:
    """Today's production ranking (jobs/tasks.generate without a reranker)."""
    names, ms = [], []
    for seed in range(REQUESTS):
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        rows = candidate_rows(model.generate(POOL, rng), corpus, model_name, judge)
        shown = choose_shown(pool_scores(rows), n, EXPLORE, rng)
        ms.append(1000 * (time.perf_counter() - start))
        names += [rows[i]["name"] for i, _ in shown]
    return Shown(names, ms)


def run_reservoir(reservoir, n: int) -> Shown:
    names, ms = [], []
    for seed in range(REQUESTS):
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        picked = reservoir.draw(n, rng)
        ms.append(1000 * (time.perf_counter() - start))
        names += [reservoir.names[i] for i in picked]
    return Shown(names, ms)


# -- one (corpus, model) ------------------------------------------------------------------------------
def trained_pair(corpus: str, model_name: str, train: list[str], seed: int):
    """The model, its adversarial judge, the near-copy index and the artifact header, as ``tnaas train``
    makes them, on the training split; and the split's random stream (it then draws the candidates)."""
    model = NameModel(make_lm(model_name), corpus).fit(train)
    rng = np.random.default_rng(seed)
    judge = BelievabilityJudge().fit(*judge_training_set(model, train, rng))
    return model, judge, NearCopies(train), ArtifactInfo(corpus=corpus, model=model_name, corpus_hash="bench"), rng


def evaluate_pair(
    corpus: str,
    model_name: str,
    train: list[str],
    held: list[str],
    corpus_judge: CorpusJudge,
    n: int,
    seed: int = 0,
    grouped: bool = True,
    temperatures: tuple[float, ...] = (),
    cross_fit: bool = False,
    style: bool = False,
    pool: int = POOL_RESERVOIR,
    by_shape: bool = False,
    keeps: tuple[int, ...] = (),
    coverages: tuple[tuple[int, int], ...] = (),
) -> dict:
    start = time.perf_counter()
    model, judge, near, info, rng = trained_pair(corpus, model_name, train, seed)
    # one pool (at the corpus' production temperature), cut both ways
    candidates = score_candidates(model, judge, near, rng, pool, temperature_for(corpus, model_name))
    plain = reservoir_from(*candidates, model, near, default_blocklist(), info, by_length=False)
    reservoir = reservoir_from(*candidates, model, near, default_blocklist(), info, by_length=True)
    tiers = {"plain_tier": len(plain), "reservoir": len(reservoir)}  # tier sizes of the levers that change them
    shown = {
        "random": run_random(model, n),
        "judge": run_judge(model, corpus, model_name, corpus_judge, n),
        "plain_tier": run_reservoir(plain, n),
        "reservoir": run_reservoir(reservoir, n),
    }
    for keep in keeps:  # the same candidates, a tier of another size (smaller: more selective, more repeats)
        sized = reservoir_from(*candidates, model, near, default_blocklist(), info, by_length=True, keep=keep)
        shown[f"reservoir keep {keep}"] = run_reservoir(sized, n)
        tiers[f"reservoir keep {keep}"] = len(sized)
    if by_shape:  # the same candidates, cut per length and make-up (letters, separators, digits)
        shaped = reservoir_from(
            *candidates, model, near, default_blocklist(), info, by_length=True, stratum=length_and_shape
        )
        shown["reservoir by shape"] = run_reservoir(shaped, n)
        tiers["reservoir by shape"] = len(shaped)
    for k, missing in coverages:  # the same candidates, those whose k-grams the 60% has (all but `missing`)
        covered = Coverage(train, k, missing).mask(candidates[0])
        names = [name for name, ok in zip(candidates[0], covered) if ok]
        filtered = reservoir_from(names, candidates[1][covered], model, near, default_blocklist(), info, by_length=True)
        shown[coverage_label(k, missing)] = run_reservoir(filtered, n)
        tiers[coverage_label(k, missing)] = len(filtered)
    for t in temperatures:  # the same judge, candidates sampled at temperature t, cut per length
        names = eligible_candidates(model, near, rng, pool, temperature=t)
        scores = judge.believability(names) if names else np.zeros(0)
        tempered = reservoir_from(names, scores, model, near, default_blocklist(), info, by_length=True)
        shown[f"reservoir T={t:g}"] = run_reservoir(tempered, n)
    if style:  # the same candidates, P(real) times the corpus judge's P(this corpus): "in the style of"
        column = list(corpus_judge.classes_).index(corpus)
        styled = candidates[1] * corpus_judge.predict_proba(candidates[0])[:, column]
        by_style = reservoir_from(candidates[0], styled, model, near, default_blocklist(), info, by_length=True)
        shown["reservoir x style"] = run_reservoir(by_style, n)
    if cross_fit:
        names, scores = cross_fitted_candidates(model_name, corpus, train, near, rng)
        crossed = reservoir_from(names, scores, model, near, default_blocklist(), info, by_length=True)
        shown["reservoir xfit"] = run_reservoir(crossed, n)
    real = held if len(held) <= MAX_DETECTOR_REAL else list(rng.choice(held, MAX_DETECTOR_REAL, replace=False))
    fake = [c.name for c in model.generate(len(real), np.random.default_rng(seed + 1))]
    train_names = list(rng.choice(train, min(1000, len(train)), replace=False))
    detectors = {f: Detector(f, grouped).fit(real, fake, seed) for f in DETECTORS}
    known = set(train)
    out = {
        "corpus": corpus,
        "model": model_name,
        "split_seed": seed,
        "reservoir_size": len(reservoir),
        "eligible": len(candidates[0]),
        "folds": "grouped" if grouped else "stratified",
        "heldout": {f: d.heldout_called_real for f, d in detectors.items()},
        "train_names": {f: d.called_real(train_names) for f, d in detectors.items()},
        "heldout_length": float(np.mean([len(x) for x in held])),
        "strategies": {},
    }
    for name, s in shown.items():
        out["strategies"][name] = {
            "called_real": {f: d.called_real(s.names) for f, d in detectors.items()},
            "near_copies": float(near.mask(s.names).mean()),
            "distinct": len(set(s.names)) / len(s.names),
            "novelty": float(np.mean([x not in known for x in s.names])),
            "blocked": float(np.mean(default_blocklist().mask(s.names))),
            "ms": float(np.median(s.ms)),
            "length": float(np.mean([len(x) for x in s.names])),
            "tier": tiers.get(name),
            "examples": s.names[:8],
        }
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def explain_gap(corpus: str, model_name: str, train: list[str], held: list[str], seed: int = 0) -> dict:
    """Where the linear detector's verdict on the shown names falls short of the held-out names.

    One linear detector on all held-out names against plain samples (the benchmark's features, not
    cross-fitted: a diagnosis, not a figure to meet), and its mean logit on the deployed kind of
    reservoir, on the held-out names and on real names of the 60% the models learnt from. The gap to
    held-out, ``sum_j w_j (mean x_j shown - mean x_j held-out)``, is split by feature: the n-grams the
    60% never has (no model trained on it can draw them; the detector's real class is full of them)
    and the rest; the rest's largest terms name what the ranking over- or under-shows."""
    model, judge, near, info, rng = trained_pair(corpus, model_name, train, seed)
    candidates = score_candidates(model, judge, near, rng, POOL_RESERVOIR, temperature_for(corpus, model_name))
    shown = reservoir_from(*candidates, model, near, default_blocklist(), info, by_length=True).names
    real = held if len(held) <= MAX_DETECTOR_REAL else list(rng.choice(held, MAX_DETECTOR_REAL, replace=False))
    fake = [c.name for c in model.generate(len(real), np.random.default_rng(seed + 1))]
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(2, 5), binary=True)
    detector = _classifier("linear").fit(
        _features(vectorizer, real + fake, fit=True), np.r_[np.ones(len(real)), np.zeros(len(fake))]
    )
    w = detector.coef_[0]
    grams = [*vectorizer.get_feature_names_out(), "(length / 10)"]

    def mean_x(names: list[str]) -> np.ndarray:
        return np.asarray(_features(vectorizer, names).mean(axis=0)).ravel()

    x_shown, x_held, x_train = mean_x(shown), mean_x(real), mean_x(train)
    terms = w * (x_shown - x_held)
    unseen = x_train == 0  # n-grams no training name has (the length feature is never 0)
    seen = np.flatnonzero(~unseen)
    order = seen[np.argsort(terms[seen])]

    def top(features: np.ndarray) -> list[tuple]:
        return [
            (grams[j], round(float(w[j]), 2), round(float(x_shown[j]), 3), round(float(x_held[j]), 3)) for j in features
        ]

    return {
        "corpus": corpus,
        "model": model_name,
        "split_seed": seed,
        "logit shown - held-out": float(terms.sum()),
        "of which n-grams the 60% lacks": float(terms[unseen].sum()),
        "of which the rest": float(terms[~unseen].sum()),
        "logit real names of the 60% - held-out": float((w * (x_train - x_held)).sum()),
        "shown most short of held-out (n-gram, weight, share shown, share held-out)": top(order[:8]),
        "shown most above held-out": top(order[::-1][:5]),
    }


def coverage_label(k: int, missing: int) -> str:
    return f"reservoir cover {k}" + (f" -{missing}" if missing else "")


def parse_coverages(spec: str) -> tuple[tuple[int, int], ...]:
    """``"3,3:2"`` -> ((3, 0), (3, 2)): k, and how many unseen k-grams a name may have."""
    pairs = [part.split(":") for part in spec.split(",") if part]
    return tuple((int(p[0]), int(p[1]) if len(p) > 1 else 0) for p in pairs)


def cross_fitted_candidates(
    model_name: str, corpus: str, train: list[str], near: NearCopies, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    """The sequence-copying signal: the names split in halves A and B; candidates sampled from a model
    of B are scored by a judge of real A names against that model's samples, and the other way round.
    A judge trained on the same names its model copies cannot see copying (long training substrings
    are "real" to it); across halves, a candidate built from long pieces of B's names looks like the
    model-of-B samples the judge learnt to call fake."""
    order = rng.permutation(len(train))
    halves = [[train[i] for i in order[::2]], [train[i] for i in order[1::2]]]
    best: dict[str, float] = {}
    for real, other in ((halves[0], halves[1]), (halves[1], halves[0])):
        half_model = NameModel(make_lm(model_name), corpus).fit(other)
        judge = BelievabilityJudge().fit(*judge_training_set(half_model, real, rng))
        names = eligible_candidates(half_model, near, rng, POOL_RESERVOIR // 2)
        for name, score in zip(names, judge.believability(names) if names else []):
            best[name] = max(float(score), best.get(name, 0.0))
    return list(best), np.array(list(best.values()))


def meets_targets(result: dict, strategy: str = "reservoir") -> dict[str, bool]:
    s = result["strategies"][strategy]
    return {
        "called_real": all(
            s["called_real"][f] >= result["heldout"][f] - TARGETS["called_real_gap"] for f in s["called_real"]
        ),
        "near_copies": s["near_copies"] <= TARGETS["near_copies"],
        "distinct": s["distinct"] >= TARGETS["distinct"],
        "novelty": s["novelty"] >= TARGETS["novelty"],
        "ms": s["ms"] < TARGETS["ms"],
    }


def choose_default(results: list[dict], current: str | None = None) -> str:
    """The model whose reservoir is called real most often (mean of both detectors minus the held-out
    rate, averaged over the split seeds run), among those that keep near-copies, repeats and novelty
    within target on every split; NLL plays no part. The ``current`` default stays unless that gain over
    it, paired per split seed, exceeds its standard error (one split cannot tell: the current stays)."""
    by_model: dict[str, dict[int, float]] = {}
    for r in results:
        by_model.setdefault(r["model"], {})[r["split_seed"]] = float(np.mean(gaps(r, "reservoir")))
    ok = [
        m
        for m in by_model
        if all(v for r in results if r["model"] == m for k, v in meets_targets(r).items() if k != "called_real")
    ]
    best = max(ok or list(by_model), key=lambda m: np.mean(list(by_model[m].values())))
    if current not in ok or best == current:
        return best
    seeds = sorted(set(by_model[best]) & set(by_model[current]))
    gain = [by_model[best][s] - by_model[current][s] for s in seeds]
    if len(gain) > 1 and np.mean(gain) > np.std(gain, ddof=1) / np.sqrt(len(gain)):
        return best
    return current


def gaps(result: dict, strategy: str) -> list[float]:
    """Called real minus the held-out reference, per detector."""
    s = result["strategies"][strategy]["called_real"]
    return [s[f] - result["heldout"][f] for f in DETECTORS]


def mean_se(values: list[float], signed: bool = False) -> str:
    """``mean ± standard error`` over split seeds (just the value for one seed)."""
    form = "+.3f" if signed else ".2f"
    if len(values) == 1:
        return f"{values[0]:{form}}"
    return f"{np.mean(values):{form}} ± {np.std(values, ddof=1) / np.sqrt(len(values)):.3f}"


def print_results(results: list[dict], console: Console) -> None:
    """One row per (corpus, model, detector): the held-out reference and every strategy's share called
    real, as mean ± standard error over the split seeds run, with the per-seed values of the held-out
    reference and of the reservoir's gap to it; near-copies, distinct, length and cost from the reservoir."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["corpus"], r["model"]), []).append(r)
    strategies = list(results[0]["strategies"])
    seeds = sorted({r["split_seed"] for r in results})
    table = Table(
        "corpus / model",
        "detector",
        "held-out real",
        "real (60% split)",
        *strategies,
        "reservoir - held-out",
        "per seed: held-out | reservoir - held-out",
        "near-copies / distinct / novelty (reservoir)",
        "length held / res",
        title=f"Share called real by the detector (mean ± s.e. over split seeds {seeds}); "
        f"{REQUESTS} requests of n names each",
    )
    for (corpus, model), rs in groups.items():
        for i, f in enumerate(DETECTORS):
            res = [r["strategies"]["reservoir"] for r in rs]
            extra = (
                [
                    " / ".join(f"{np.mean([x[k] for x in res]):.3f}" for k in ("near_copies", "distinct", "novelty")),
                    f"{np.mean([r['heldout_length'] for r in rs]):.1f} / {np.mean([x['length'] for x in res]):.1f}",
                ]
                if i == 0
                else [""] * 2
            )
            gap = [r["strategies"]["reservoir"]["called_real"][f] - r["heldout"][f] for r in rs]
            table.add_row(
                f"{corpus} {model}" if i == 0 else "",
                f,
                mean_se([r["heldout"][f] for r in rs]),
                mean_se([r["train_names"][f] for r in rs]),
                *(mean_se([r["strategies"][k]["called_real"][f] for r in rs]) for k in strategies),
                mean_se(gap),
                " ".join(f"{r['heldout'][f]:.2f}|{g:+.2f}" for r, g in zip(rs, gap)),
                *extra,
            )
    console.print(table)


def print_levers(results: list[dict], console: Console, base: str = "reservoir") -> None:
    """Each strategy against ``base`` on the same split (paired over split seeds): the gap to the
    held-out reference and the difference to ``base``, per detector, mean ± standard error. A lever is
    worth taking only where the difference exceeds its standard error on both detectors."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["corpus"], r["model"]), []).append(r)
    strategies = [k for k in results[0]["strategies"] if k not in ("random", "judge")]
    table = Table(
        "corpus / model",
        "strategy",
        *(f"{f}: - held-out" for f in DETECTORS),
        *(f"{f}: - {base}" for f in DETECTORS),
        "length",
        "tier",
        "distinct",
        title=f"Levers, paired per split seed (mean ± s.e. over {len({r['split_seed'] for r in results})} splits)",
    )
    for (corpus, model), rs in groups.items():
        for i, k in enumerate(strategies):
            table.add_row(
                f"{corpus} {model}" if i == 0 else "",
                k,
                *(
                    mean_se([r["strategies"][k]["called_real"][f] - r["heldout"][f] for r in rs], signed=True)
                    for f in DETECTORS
                ),
                *(
                    mean_se(
                        [r["strategies"][k]["called_real"][f] - r["strategies"][base]["called_real"][f] for r in rs],
                        signed=True,
                    )
                    for f in DETECTORS
                ),
                f"{np.mean([r['strategies'][k]['length'] for r in rs]):.1f}",
                tier_range([r["strategies"][k].get("tier") for r in rs]),
                f"{np.mean([r['strategies'][k]['distinct'] for r in rs]):.3f}",
            )
    console.print(table)


def tier_range(sizes: list) -> str:
    """The tier size over the split seeds (min-max), where the run recorded it."""
    known = [s for s in sizes if s is not None]
    if not known:
        return ""
    return str(min(known)) if min(known) == max(known) else f"{min(known)}-{max(known)}"


def worker_path(console: Console, requests: int = 300) -> None:
    """Cost per request on the deployed artifacts (TNAAS_ARTIFACTS_DIR), through the worker's own
    pipeline (jobs.pipeline.generate): the reservoir draw alone (the cold-start ranking) and the whole
    answer (candidate rows for the n names shown: the corpus judge, every model's NLL); then the same
    once a team has voted, with a reranker deployed (fitted on a simulated team's first 40 requests,
    in a folder that links to the deployed models): its ranking (a pool drawn, its scores looked up
    from the reservoir's column, the best n chosen) against scoring the pool per request as before."""
    import tempfile

    from core.settings import get_settings
    from jobs.contracts import GenerateRequest
    from jobs.pipeline import default_model, generate
    from models import artifact
    from models.bandit import competing
    from models.name_model import Candidate
    from models.registry import ModelRegistry
    from models.reranker import Reranker, labels, voted_rows
    from testkit.simulated_team import CONFIGS, run_loop

    settings = get_settings()
    registry = ModelRegistry(settings.artifacts_dir)
    registry.preload()
    table = Table(
        "corpus",
        "model",
        "ranked by",
        "draw median µs",
        "draw p99 µs",
        "today: pool + judge median ms",
        "generate() median ms",
        "voted: reranked draw median µs",
        "voted: reranked draw p99 µs",
        "voted: pool scored per request median ms",
        "voted: generate() median ms",
    )
    corpora = [c for c in corpus_names() if registry.has_reservoir(c, default_model(c, registry, settings))]
    loop = run_loop(registry, corpora[:1], [default_model(corpora[0], registry, settings)], CONFIGS[0], 40, 0)
    voted = voted_rows(loop.rows)
    reranker = Reranker().fit(voted, labels(voted))
    with tempfile.TemporaryDirectory() as folder:
        for entry in Path(settings.artifacts_dir).iterdir():
            if entry.name != "reranker.joblib":
                (Path(folder) / entry.name).symlink_to(entry.resolve())
        info = ArtifactInfo(corpus="votes", model="reranker", corpus_hash="bench", params=reranker.get_params())
        artifact.save_estimator(reranker, info, Path(folder) / "reranker.joblib")
        voting = ModelRegistry(Path(folder))
        voting.preload()
        voted_settings = settings.model_copy(update={"artifacts_dir": Path(folder)})
        for corpus in corpora:
            model = default_model(corpus, registry, settings)
            reservoir = registry.reservoir(corpus, model)
            name_model, judge = registry.model(corpus, model), registry.estimator("judge")
            arms = tuple(competing(voting.answering_models(corpus)))
            column = voting.reranked_scores(corpus, model, arms)  # once per reranker version (warm-up)
            features = voting.pool_features(corpus, model, arms)
            draws, today, answers, reranked, per_request, voted_answers = [], [], [], [], [], []
            for seed in range(requests):
                rng = np.random.default_rng(seed)  # every request makes its generator anyway: not ranking cost
                start = time.perf_counter()
                reservoir.draw(10, rng)
                draws.append(time.perf_counter() - start)
                rng = np.random.default_rng(seed)
                start = time.perf_counter()
                rows = candidate_rows(name_model.generate(POOL, rng), corpus, model, judge)
                choose_shown(pool_scores(rows), 10, EXPLORE, rng)
                today.append(time.perf_counter() - start)
                start = time.perf_counter()
                reply = generate(GenerateRequest(corpus=corpus, n=10, seed=seed), registry, None, settings)
                answers.append(time.perf_counter() - start)
                rng = np.random.default_rng(seed)
                start = time.perf_counter()
                picked = reservoir.draw(POOL, rng)
                choose_shown(column[picked], 10, EXPLORE, rng)
                reranked.append(time.perf_counter() - start)
                rng = np.random.default_rng(seed)
                start = time.perf_counter()
                picked = reservoir.draw(POOL, rng)
                found = [Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False) for i in picked]
                rows = candidate_rows(
                    found, corpus, model, None, real=reservoir.scores[picked], features=(features, picked)
                )
                choose_shown(pool_scores(rows, reranker), 10, EXPLORE, rng)
                per_request.append(time.perf_counter() - start)
                start = time.perf_counter()
                voted_reply = generate(
                    GenerateRequest(corpus=corpus, model=model, n=10, seed=seed), voting, None, voted_settings
                )
                voted_answers.append(time.perf_counter() - start)
            assert voted_reply.ranked_by.startswith("reranker")
            table.add_row(
                corpus,
                model,
                reply.ranked_by.split()[0],
                f"{1e6 * np.median(draws):.1f}",
                f"{1e6 * np.quantile(draws, 0.99):.1f}",
                f"{1e3 * np.median(today):.2f}",
                f"{1e3 * np.median(answers):.2f}",
                f"{1e6 * np.median(reranked):.1f}",
                f"{1e6 * np.quantile(reranked, 0.99):.1f}",
                f"{1e3 * np.median(per_request):.2f}",
                f"{1e3 * np.median(voted_answers):.2f}",
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=",".join(corpus_names()))
    parser.add_argument("--models", default=",".join(TRAINED_BY_DEFAULT))
    parser.add_argument("-n", type=int, default=10, help="names per request")
    parser.add_argument("--seed", type=int, default=0, help="the first split seed")
    parser.add_argument(
        "--split-seeds",
        type=int,
        default=1,
        help="average over this many splits (seeds --seed, --seed + 1, ...): small corpora (cats, dogs: 40 "
        "held-out names) move their held-out reference by 0.05-0.08 from one split to the next",
    )
    parser.add_argument(
        "--temperatures",
        default="",
        help="also build reservoirs from candidates sampled at these temperatures (e.g. 0.8,0.6), same judge",
    )
    parser.add_argument(
        "--pool", type=int, default=POOL_RESERVOIR, help="candidates sampled per reservoir (tnaas train's)"
    )
    parser.add_argument(
        "--style",
        action="store_true",
        help="also a reservoir scored by P(real) times the corpus judge's P(asked corpus)",
    )
    parser.add_argument(
        "--keeps", default="", help="also tiers of these sizes (e.g. 12000), from the same scored candidates"
    )
    parser.add_argument(
        "--coverage",
        default="",
        help="also tiers of the same candidates filtered to those whose character k-grams (with ^name$) the "
        "training names all have: e.g. 3,2 (k) or 3:2 (k, at most 2 unseen k-grams)",
    )
    parser.add_argument(
        "--by-shape",
        action="store_true",
        help="also the reservoir cut per length and make-up (letters, separators, digits) in the corpus' proportions",
    )
    parser.add_argument(
        "--cross-fit",
        action="store_true",
        help="also a reservoir scored across halves of the names (the sequence-copying signal)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument(
        "--stratified-folds",
        action="store_true",
        help="plain stratified cross-fitting folds (the first version's): near-duplicate held-out names may "
        "fall in different folds, which inflates the held-out reference (by 0.01-0.05 on pokemon, superheroes)",
    )
    parser.add_argument("--write-defaults", action="store_true", help="record the chosen model per corpus")
    parser.add_argument("--worker-path", action="store_true", help="only the cost per request on the deployed models")
    parser.add_argument("--from-json", type=Path, help="only print the tables of a --json file written before")
    parser.add_argument(
        "--fresh-stack",
        action="store_true",
        help="what a fresh stack shows over 100 requests per corpus before any vote, against the default alone",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="only where the linear detector's verdict on the reservoir falls short of held-out names (explain_gap)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    console = Console(width=240)
    if args.worker_path:
        worker_path(console)
        return
    if args.fresh_stack:
        from bench.fresh_stack import run as fresh_stack

        models = args.models.split(",") if args.models != ",".join(TRAINED_BY_DEFAULT) else None
        fresh_stack(args.corpora.split(","), args.n, args.seed, console, models, args.pool, args.json)
        return
    if args.from_json and "fresh_stack" in (saved := json.loads(args.from_json.read_text())):
        from bench.fresh_stack import print_fresh

        print_fresh(saved["fresh_stack"], console)
        return
    if args.from_json:
        saved = saved["results"]
        print_results(saved, console)
        print_levers(saved, console)
        report_defaults(saved, sorted({r["corpus"] for r in saved}), console, args.write_defaults)
        return
    corpora, models = args.corpora.split(","), args.models.split(",")
    if args.explain:
        for seed in range(args.seed, args.seed + args.split_seeds):
            for corpus in corpora:
                train, held = split_corpus(load_corpus(corpus), seed)
                for model_name in models:
                    console.print(explain_gap(corpus, model_name, train, held, seed))
        return
    temperatures = tuple(float(t) for t in args.temperatures.split(",") if t)
    results: list[dict] = []
    for seed in range(args.seed, args.seed + args.split_seeds):
        splits = {c: split_corpus(load_corpus(c), seed) for c in corpus_names()}
        names, labels = [], []
        for c, (train, _) in splits.items():  # today's corpus judge, on the same 60% of every corpus
            names += train
            labels += [c] * len(train)
        corpus_judge = CorpusJudge().fit(names, labels)
        for corpus in corpora:
            for model_name in models:
                result = evaluate_pair(
                    corpus,
                    model_name,
                    *splits[corpus],
                    corpus_judge,
                    args.n,
                    seed,
                    not args.stratified_folds,
                    temperatures,
                    args.cross_fit,
                    args.style,
                    args.pool,
                    args.by_shape,
                    tuple(int(k) for k in args.keeps.split(",") if k),
                    parse_coverages(args.coverage),
                )
                log.info(
                    "%s/%s split %d done in %.0f s: targets %s",
                    corpus,
                    model_name,
                    seed,
                    result["seconds"],
                    meets_targets(result),
                )
                results.append(result)
                if args.json:  # a long run keeps what it has measured
                    args.json.write_text(json.dumps({"results": results}, indent=1))
    print_results(results, console)
    print_levers(results, console)
    for r in results:
        console.print(
            f"{r['corpus']} {r['model']}: reservoir {r['reservoir_size']} names; targets met: {meets_targets(r)}; "
            f"e.g. {', '.join(r['strategies']['reservoir']['examples'][:6])}"
        )
    defaults = report_defaults(results, corpora, console, args.write_defaults)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "defaults": defaults}, indent=1))


def report_defaults(results: list[dict], corpora: list[str], console: Console, write: bool) -> dict[str, str]:
    """The default model per corpus by ``choose_default`` (against models/default_models.json); ``write``
    records it there."""
    current = json.loads(DEFAULTS_FILE.read_text()) if DEFAULTS_FILE.exists() else {}
    defaults = {c: choose_default([r for r in results if r["corpus"] == c], current.get(c)) for c in corpora}
    console.print(f"default model per corpus (by this benchmark; current {current}): {defaults}")
    if write:
        DEFAULTS_FILE.write_text(json.dumps(current | defaults, indent=2, sort_keys=True) + "\n")
    return defaults


if __name__ == "__main__":
    main()
