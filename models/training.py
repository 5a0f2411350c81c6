"""Train, evaluate and save one (corpus, model) pair: what ``tnaas train`` runs for every pair."""

from __future__ import annotations

import json
import logging
import random
import time

import numpy as np

from core.errors import ArtifactVersionMismatch
from corpora import corpus_hash, corpus_names, load_corpus, manifest
from models import artifact
from models.artifact import ArtifactInfo
from models.bandit import competing
from models.believability import (
    FIRST_POOL,
    POOL,
    NearCopies,
    Reservoir,
    believability_info,
    build_reservoir,
    judge_training_set,
)
from models.believability_judge import BelievabilityJudge
from models.catalog import make_lm
from models.decency import default_blocklist
from models.judge import CorpusJudge, corpus_dataset, evaluate_judge
from models.language import LANGUAGES_DIR, LanguageDetector, load_language_data
from models.name_model import NameModel
from models.ranking import PoolFeatures, load_columns, save_columns
from models.registry import ModelRegistry
from models.reranker import Reranker, enough_votes, evaluate_reranker, labels, voted_rows

log = logging.getLogger(__name__)
HOLDOUT = 0.1
FIRST_JUDGE_NAMES = 2000  # names of each corpus a stack's first judge learns from
NOVELTY_SAMPLES = 500


def split(words: list[str], holdout: float = HOLDOUT, seed: int = 42) -> tuple[list[str], list[str]]:
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)
    cut = int(len(shuffled) * (1 - holdout))
    return shuffled[:cut], shuffled[cut:]


def nll_per_char(model: NameModel, words: list[str], length_prior: bool = True) -> float:
    """Mean negative log-likelihood in nats per predicted character, the end included."""
    score = model.log_prob if length_prior else model.automaton_.log_prob
    return -sum(score(w) for w in words) / sum(len(w) + 1 for w in words)


def evaluate(model_name: str, words: list[str], corpus: str, seed: int = 0) -> dict:
    """Held-out metrics from a model fitted on 90% of the corpus."""
    train, test = split(words)
    model = NameModel(make_lm(model_name), corpus).fit(train)
    samples = model.sample(NOVELTY_SAMPLES, np.random.default_rng(seed))
    known = set(words)
    covered = [w for w in test if model.log_prob(w) > float("-inf")]
    finite = len(covered) == len(test)  # unsmoothed chains give some held-out names probability 0
    return {
        "heldout_nll": round(nll_per_char(model, test), 4) if finite else None,
        "heldout_nll_chain_only": round(nll_per_char(model, test, length_prior=False), 4) if finite else None,
        "heldout_coverage": round(len(covered) / len(test), 4),
        "heldout_names": len(test),
        "novelty": round(sum(s not in known for s in samples) / len(samples), 4),
        "distinct": round(len(set(samples)) / len(samples), 4),
    }


def train_one(registry: ModelRegistry, corpus: str, model_name: str, force: bool = False) -> tuple[ArtifactInfo, bool]:
    """The name model, then its believability judge and reservoir; (the model's info, trained?).

    Skips whatever is up to date."""
    info, trained = train_name_model(registry, corpus, model_name, force)
    train_believability(registry, corpus, model_name, force=force or trained)
    return info, trained


def train_name_model(
    registry: ModelRegistry, corpus: str, model_name: str, force: bool = False, evaluated: bool = True
) -> tuple[ArtifactInfo, bool]:
    """Returns (info, trained); skips the work when an artifact of the same version exists.

    ``evaluated=False`` (a stack's first minute): without the held-out metrics, which fit the model once
    more; a later call with ``evaluated`` fits it again with them (same version: its reservoir stays)."""
    words = load_corpus(corpus)
    lm = make_lm(model_name)
    info = ArtifactInfo(
        corpus=corpus, model=model_name, corpus_hash=corpus_hash(words), params={"order": lm.order} | vars(lm)
    )
    path = registry.path(corpus, model_name)
    if not force and path.exists():
        try:
            existing = artifact.read_info(path)
            if existing.version == info.version and (not evaluated or existing.metrics.get("evaluated", True)):
                return existing, False
        except ValueError:
            pass  # unreadable or old format: retrain
    start = time.perf_counter()
    metrics = evaluate(model_name, words, corpus) if evaluated else {"heldout_nll": None}
    metrics["evaluated"] = evaluated
    model = NameModel(lm, corpus).fit(words)
    metrics["states"] = len(model.automaton_.contexts)
    metrics["train_seconds"] = round(time.perf_counter() - start, 2)
    info.metrics = metrics
    artifact.save(model, info, path)
    return info, True


def train_believability(
    registry: ModelRegistry, corpus: str, model_name: str, force: bool = False, first: bool = False
) -> tuple[ArtifactInfo, bool]:
    """The adversarial judge of (corpus, model) and its scored reservoir, both stamped with one version.

    ``first``: a first reservoir (``FIRST_POOL`` candidates, seconds rather than a minute), unless a full
    one is up to date already; the full one replaces it when it is trained (without ``first``)."""
    model, model_info = artifact.load(registry.path(corpus, model_name))
    info = believability_info(corpus, model_info, FIRST_POOL if first else POOL)
    judge_path, reservoir_path = (
        registry.believability_path(corpus, model_name),
        registry.reservoir_path(corpus, model_name),
    )
    accepted = {info.version} | ({believability_info(corpus, model_info).version} if first else set())
    if not force and reservoir_path.exists() and (existing := _up_to_date(judge_path, info, accepted)):
        try:
            if Reservoir.load(reservoir_path).info.version in accepted:
                return existing, False
        except ValueError:
            pass  # unreadable or old format: rebuild
    start = time.perf_counter()
    rng = np.random.default_rng(int(info.version, 16))  # same version, same reservoir
    words = load_corpus(corpus)
    judge = BelievabilityJudge().fit(*judge_training_set(model, words, rng))
    judge_seconds = time.perf_counter() - start
    reservoir = build_reservoir(
        model,
        judge,
        NearCopies(words),
        default_blocklist(),
        info,
        rng,
        pool=info.params["pool"],
        temperature=info.params["temperature"],
        first=first,
    )
    info.metrics = {
        "reservoir": len(reservoir),
        "judge_seconds": round(judge_seconds, 2),
        "reservoir_seconds": round(time.perf_counter() - start - judge_seconds, 2),
        "tier_min_score": round(float(reservoir.scores.min()), 4) if len(reservoir) else None,
    }
    artifact.save_estimator(judge, info, judge_path)
    reservoir.save(reservoir_path)
    log.info(
        "%s/%s believability: judge in %.1f s, reservoir of %d names in %.1f s",
        corpus,
        model_name,
        judge_seconds,
        len(reservoir),
        info.metrics["reservoir_seconds"],
    )
    return info, True


def _up_to_date(path, info: ArtifactInfo, accepted: set[str] | None = None) -> ArtifactInfo | None:
    """The info of the estimator at ``path`` if it is of ``info``'s version (or one of ``accepted``)."""
    if not path.exists():
        return None
    try:
        existing = artifact.ensure_header(path)
    except (ValueError, ArtifactVersionMismatch):
        return None  # unreadable, old format, another release's or other scikit-learn: retrain
    return existing if existing.version in (accepted or {info.version}) else None


def train_judge(registry: ModelRegistry, force: bool = False) -> tuple[ArtifactInfo, bool]:
    """The corpus judge on every corpus, with held-out metrics from an 80/20 split by name; then every
    reservoir's ranking columns, which need the judge and every model of the corpus, so come after
    both (``train_ranking``). The judge's (info, trained?)."""
    info, trained = train_corpus_judge(registry, force)
    train_ranking(registry, force)
    return info, trained


def train_corpus_judge(registry: ModelRegistry, force: bool, first: bool = False) -> tuple[ArtifactInfo, bool]:
    """``first``: a stack's first judge, fitted on a sample of each corpus (``FIRST_JUDGE_NAMES``), without
    the "Pokemon or tech?" verdict and held-out metrics, unless a judge is there already: what ranks
    names; the full one replaces it."""
    judge = CorpusJudge(max_per_corpus=FIRST_JUDGE_NAMES, with_verdict=False) if first else CorpusJudge()
    data_hash = corpus_hash([m["sha256"] for m in manifest().values()])
    params = {k: v for k, v in vars(judge).items() if v is not None}
    info = ArtifactInfo(corpus="all", model="judge", corpus_hash=data_hash, params=params)
    path = registry.estimator_path("judge")
    full = ArtifactInfo(corpus="all", model="judge", corpus_hash=data_hash, params=vars(CorpusJudge()))
    accepted = {info.version, full.version} if first else {info.version}
    if not force and (existing := _up_to_date(path, info, accepted)):
        return existing, False
    start = time.perf_counter()
    info.metrics = {} if first else evaluate_judge()
    judge.fit(*corpus_dataset())
    info.metrics["train_seconds"] = round(time.perf_counter() - start, 2)
    artifact.save_estimator(judge, info, path)
    return info, True


def ranking_info(registry: ModelRegistry, corpus: str, model: str) -> ArtifactInfo:
    """What a reservoir's ranking columns are computed from: the reservoir, the judge and the models
    whose nats/char they hold (those that compete for the corpus' requests), each by its version."""
    reservoir = registry.reservoir(corpus, model)
    scored_by = competing(registry.trained_models(corpus))
    params = {
        "reservoir": reservoir.info.version,
        "judge": registry.estimator_info("judge").version,
        "models": {m: registry.get(corpus, m)[1].version for m in scored_by},
    }
    return ArtifactInfo(corpus=corpus, model=model, corpus_hash=reservoir.info.corpus_hash, params=params)


def train_ranking(registry: ModelRegistry, force: bool = False) -> int:
    """Store the ranking columns (``models.ranking.PoolFeatures``) of every trained reservoir whose
    stored ones are missing or were computed from other versions; how many were computed. Workers map
    them instead of computing them each (about a second and a few MB per reservoir and worker)."""
    registry = ModelRegistry(registry.root)  # what is on disk now, not what a caller loaded before
    computed = 0
    for corpus in corpus_names():
        for model in registry.trained_models(corpus):
            if not registry.has_reservoir(corpus, model):
                continue
            info, path = ranking_info(registry, corpus, model), registry.ranking_path(corpus, model)
            if not force and path.exists():
                try:
                    if load_columns(path)[1].version == info.version:
                        continue
                except ValueError:
                    pass  # unreadable or old format: compute again
            start = time.perf_counter()
            scorers = {m: registry.model(corpus, m) for m in info.params["models"]}
            features = PoolFeatures.computed(
                registry.reservoir(corpus, model).names, registry.estimator("judge"), scorers
            )
            info.metrics = {"names": len(features), "seconds": round(time.perf_counter() - start, 2)}
            save_columns(features, info, path)
            log.info("%s/%s ranking columns stored in %.1f s", corpus, model, info.metrics["seconds"])
            computed += 1
    return computed


def evaluate_language(detector: LanguageDetector, data) -> dict:
    """Top-1 accuracy per held-out set (overall and per language), and how often it answers."""
    out: dict = {"temperatures": [round(float(t), 3) for t in detector.temperatures_]}
    for name, items in data.held_out.items():
        texts, truth = map(np.array, zip(*items))
        probs = detector.predict_proba(list(texts))
        top = detector.classes_[probs.argmax(axis=1)]
        answered = probs.max(axis=1) >= detector.unknown_below
        per_lang = {
            lang: round(float(np.mean(top[truth == lang] == lang)), 3) if (truth == lang).any() else None
            for lang in detector.classes_
        }
        out[name] = {
            "accuracy": round(float(np.mean(top == truth)), 4),
            "answered": round(float(answered.mean()), 4),
            "accuracy_when_answered": round(float(np.mean((top == truth)[answered])), 4),
            "per_language": per_lang,
            "items": len(items),
        }
    return out


def train_language(registry: ModelRegistry, force: bool = False) -> tuple[ArtifactInfo, bool]:
    """The natural-language detector; metrics on UDHR articles and word-list entries never trained on."""
    detector = LanguageDetector()
    langs = json.loads((LANGUAGES_DIR / "manifest.json").read_text(encoding="utf-8"))
    data_hash = corpus_hash([m["sha256"] for m in langs.values()])
    info = ArtifactInfo(corpus="languages", model="language", corpus_hash=data_hash, params=vars(detector))
    path = registry.estimator_path("language")
    if not force and (existing := _up_to_date(path, info)):
        return existing, False
    start = time.perf_counter()
    data = load_language_data()
    detector.fit(data.X, data.y, data.calibration, sample_weight=data.weights, frequencies=data.frequencies)
    info.metrics = evaluate_language(detector, data)
    info.metrics["train_seconds"] = round(time.perf_counter() - start, 2)
    artifact.save_estimator(detector, info, path)
    return info, True


def train_reranker(registry: ModelRegistry, rows: list[dict], force: bool = False) -> tuple[ArtifactInfo | None, str]:
    """The reranker from exported impressions; (None, why) while there are not enough votes."""
    voted = voted_rows(rows)
    ready, summary = enough_votes(voted)
    if not ready:
        return None, f"reranker not trained: {summary}"
    reranker = Reranker()
    data_hash = corpus_hash([json.dumps(r, sort_keys=True) for r in voted])
    info = ArtifactInfo(corpus="votes", model="reranker", corpus_hash=data_hash, params=reranker.get_params())
    path = registry.estimator_path("reranker")
    if not force and (existing := _up_to_date(path, info)):
        return existing, f"reranker up to date: {summary}"
    start = time.perf_counter()
    info.metrics = evaluate_reranker(voted) | {
        "rows": len(voted),
        "up_voted": int(labels(voted).sum()),
        "trained_until": max(r["shown_at"] for r in voted),
    }
    reranker.fit(voted, labels(voted))
    info.metrics["train_seconds"] = round(time.perf_counter() - start, 2)
    artifact.save_estimator(reranker, info, path)
    return info, f"reranker trained: {summary}"
