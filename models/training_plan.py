"""What a stack with nothing trained trains, in which order, so that it answers within its first minute.

First (``first_steps``, before the stack serves): each corpus' default model (models/default_models.json)
with its believability judge and a first reservoir (``FIRST_POOL``), and the corpus judge without its
held-out metrics: all a request that names no model needs. Then (``later_steps``, in the background while
the stack serves): the language detector, every other model of every corpus with its full reservoir, the
full reservoirs of the defaults, the corpus judge's metrics, the reservoirs' ranking columns.

Each step skips what is up to date, and runs under a lock on the artifacts folder: two stacks started
from one checkout train each step once, the second finding it done.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from corpora import corpus_names, load_corpus
from models.catalog import default_model_for, default_models, parse_model_name
from models.registry import ModelRegistry
from models.training import (
    _train_corpus_judge,
    train_believability,
    train_language,
    train_name_model,
    train_one,
    train_ranking,
)

log = logging.getLogger(__name__)
# Rough seconds on one free core, from `tnaas train` on a developer machine: where an ETA starts from,
# scaled by how fast the steps done so far went.
NAME_MODEL_SECONDS = 2.2e-4  # per corpus name and order (pypi kn5: 16 s)
FIRST_RESERVOIR_SECONDS = 1.0e-3  # per corpus name, judge and 30,000 candidates (pypi: 14 s)
FULL_RESERVOIR_SECONDS = 45.0  # judge and 300,000 candidates
JUDGE_SECONDS = 90.0
JUDGE_METRICS_SECONDS = 120.0
LANGUAGE_SECONDS = 60.0
RANKING_SECONDS = 2.0  # per reservoir


@dataclass(frozen=True)
class Step:
    what: str  # what a user may ask for once it is done ("pypi/kn3", "language"), or what it improves
    estimate: float  # seconds, roughly (see above)
    run: Callable[[ModelRegistry], bool]  # trains what is not up to date; whether it trained anything


def _size(corpus: str) -> int:
    return len(load_corpus(corpus))


def first_models(fallback: str) -> dict[str, str]:
    """{corpus: the model a request that names none gets}: the benchmark's choice, else ``fallback``."""
    trainable = default_models()
    return {c: m for c in corpus_names() if (m := default_model_for(c, fallback)) in trainable}


def first_steps(fallback: str) -> list[Step]:
    """What the first requests need (see the module's docstring)."""
    steps = [
        Step(
            f"{corpus}/{model}",
            _size(corpus) * (NAME_MODEL_SECONDS * parse_model_name(model)[1] + FIRST_RESERVOIR_SECONDS),
            lambda r, c=corpus, m=model: train_name_model(r, c, m)[1] | train_believability(r, c, m, first=True)[1],
        )
        for corpus, model in first_models(fallback).items()
    ]
    return steps + [Step("judge", JUDGE_SECONDS, lambda r: _train_corpus_judge(r, False, evaluated=False)[1])]


def later_steps(fallback: str) -> list[Step]:
    """Everything else `tnaas train` trains by default, most asked for first."""
    first = first_models(fallback)
    steps = [Step("language", LANGUAGE_SECONDS, lambda r: train_language(r)[1])]
    for model in default_models():
        for corpus in corpus_names():
            if first.get(corpus) != model:
                estimate = _size(corpus) * NAME_MODEL_SECONDS * parse_model_name(model)[1] + FULL_RESERVOIR_SECONDS
                steps.append(Step(f"{corpus}/{model}", estimate, lambda r, c=corpus, m=model: train_one(r, c, m)[1]))
    steps += [
        Step(
            f"{corpus}/{model} full reservoir",
            FULL_RESERVOIR_SECONDS,
            lambda r, c=corpus, m=model: train_believability(r, c, m)[1],
        )
        for corpus, model in first.items()
    ]
    steps.append(Step("judge metrics", JUDGE_METRICS_SECONDS, lambda r: _train_corpus_judge(r, False)[1]))
    reservoirs = len(corpus_names()) * len(default_models())
    steps.append(Step("ranking columns", RANKING_SECONDS * reservoirs, lambda r: train_ranking(r) > 0))
    return steps


@contextmanager
def artifacts_lock(registry: ModelRegistry):
    """One trainer at a time on an artifacts folder (a file lock: released when its process dies)."""
    registry.root.mkdir(parents=True, exist_ok=True)
    with open(registry.root / ".training.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def run_step(registry: ModelRegistry, step: Step) -> bool:
    """Run ``step`` under the artifacts lock; whether it trained anything (another stack may have)."""
    with artifacts_lock(registry):
        return step.run(ModelRegistry(registry.root, registry.learnt))


def missing(registry: ModelRegistry, fallback: str) -> list[str]:
    """The first steps whose model, reservoir or judge is not on disk (looked at, nothing loaded)."""
    out = [
        f"{c}/{m}"
        for c, m in first_models(fallback).items()
        if not (registry.path(c, m).exists() and registry.reservoir_path(c, m).exists())
    ]
    return out + ([] if registry.estimator_path("judge").exists() else ["judge"])
