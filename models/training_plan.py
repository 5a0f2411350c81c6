"""What a stack with nothing trained trains, in which order, so that it answers within its first minute.

First (``first_steps``, before the stack serves): each corpus' default model (models/default_models.json)
with its believability judge and a first reservoir (``FIRST_POOL``), both without held-out metrics,
and a first corpus judge from a sample of each corpus: all a request that names no model needs. Then (``later_steps``, in the background while
the stack serves): the language detector, every other model of every corpus with its full reservoir, the
full reservoirs of the defaults, the corpus judge's metrics, the reservoirs' ranking columns.

The first steps run on every core (``run_first``), the rest one at a time. Each step skips what is up to
date, and runs under its own lock in the artifacts folder: two stacks started from one checkout train
each step once, the second finding it done.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from corpora import corpus_names, load_corpus
from models.catalog import default_model_for, default_models, parse_model_name
from models.registry import ModelRegistry
from models.training import (
    train_believability,
    train_corpus_judge,
    train_language,
    train_name_model,
    train_one,
    train_ranking,
)

log = logging.getLogger(__name__)
# Rough seconds on one free core, from `tnaas train` on a developer machine: where an ETA starts from,
# scaled by how fast the steps done so far went.
NAME_MODEL_SECONDS = 2.2e-4  # per corpus name and order (pypi kn5: 16 s)
# A first step (a default model, unevaluated, and its first reservoir): a fixed part (its judge, 30,000
# candidates; cats: 0.8 s) and a part per corpus name (pypi kn5: 11 s). The first judge is the longest step:
# started first, the others share the second core meanwhile.
FIRST_STEP_SECONDS = 0.7
FIRST_STEP_SECONDS_PER_NAME = 7e-4
FULL_RESERVOIR_SECONDS = 45.0  # judge and 300,000 candidates
FIRST_JUDGE_SECONDS = 22.0
FULL_JUDGE_SECONDS = 240.0  # fitted twice: its held-out metrics, then on every name
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
            FIRST_STEP_SECONDS + _size(corpus) * FIRST_STEP_SECONDS_PER_NAME,
            lambda r, c=corpus, m=model: (
                train_name_model(r, c, m, evaluated=False)[1] | train_believability(r, c, m, first=True)[1]
            ),
        )
        for corpus, model in first_models(fallback).items()
    ]
    return [Step("judge", FIRST_JUDGE_SECONDS, lambda r: train_corpus_judge(r, False, first=True)[1]), *steps]


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
            FULL_RESERVOIR_SECONDS + _size(corpus) * NAME_MODEL_SECONDS * parse_model_name(model)[1],
            lambda r, c=corpus, m=model: train_name_model(r, c, m)[1] | train_believability(r, c, m)[1],
        )
        for corpus, model in first.items()
    ]
    steps.append(Step("full judge", FULL_JUDGE_SECONDS, lambda r: train_corpus_judge(r, False)[1]))
    reservoirs = len(corpus_names()) * len(default_models())
    steps.append(Step("ranking columns", RANKING_SECONDS * reservoirs, lambda r: train_ranking(r) > 0))
    return steps


@contextmanager
def step_lock(registry: ModelRegistry, what: str):
    """One trainer at a time on a step of an artifacts folder (a file lock: released when its process dies)."""
    locks = registry.root / ".training"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{what.replace('/', '.').replace(' ', '-')}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def run_step(registry: ModelRegistry, step: Step) -> bool:
    """Run ``step`` under its lock; whether it trained anything (another stack may have)."""
    with step_lock(registry, step.what):
        return step.run(ModelRegistry(registry.root, registry.learnt))


def _run_first(root: str, fallback: str, what: str) -> tuple[str, bool, float]:
    """One first step, by name, in a process of ``run_first``'s pool: (what, trained?, seconds)."""
    start = time.perf_counter()
    step = next(s for s in first_steps(fallback) if s.what == what)
    return what, run_step(ModelRegistry(Path(root)), step), time.perf_counter() - start


def run_first(registry: ModelRegistry, fallback: str, processes: int) -> Iterator[tuple[str, bool, float]]:
    """The first steps on ``processes`` cores, longest first: (what, trained?, seconds) as each is done."""
    steps = sorted(first_steps(fallback), key=lambda s: -s.estimate)
    if processes <= 1:
        for step in steps:
            yield _run_first(str(registry.root), fallback, step.what)
        return
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_run_first, str(registry.root), fallback, s.what) for s in steps]
        for done in as_completed(futures):
            yield done.result()


def train_tasks(pairs: list[tuple[str, str]], classifiers: bool, force: bool) -> list[tuple[str, float, Callable]]:
    """What `tnaas train` trains, as independent tasks: each (corpus, model) pair with its reservoir, and with
    ``classifiers`` the corpus judge's fit and the language detector. (what, estimate, task of a registry):
    module-level functions with their arguments bound, so that they pickle to a pool's process. The ranking
    columns need the judge and every model: they come after (``train_ranking``)."""
    tasks = [
        (
            f"{c}/{m}",
            _size(c) * NAME_MODEL_SECONDS * parse_model_name(m)[1] + FULL_RESERVOIR_SECONDS,
            functools.partial(train_one, corpus=c, model_name=m, force=force),
        )
        for c, m in pairs
    ]
    if classifiers:
        tasks += [
            ("judge", FULL_JUDGE_SECONDS, functools.partial(train_corpus_judge, force=force)),
            ("language", LANGUAGE_SECONDS, functools.partial(train_language, force=force)),
        ]
    return tasks


@contextmanager
def running(
    registry: ModelRegistry, tasks: list[tuple[str, float, Callable]], processes: int
) -> Iterator[Iterator[tuple[str, object, float]]]:
    """``tasks`` (see ``train_tasks``) on ``processes`` cores, longest first: yields the (what, its result,
    seconds) of each as it is done. The pool's processes are forked on entry, before the caller starts
    threads of its own (a progress bar's); on an error the tasks not started are dropped."""
    ordered = sorted(tasks, key=lambda t: -t[1])
    root, learnt = str(registry.root), str(registry.learnt)
    if processes <= 1:
        yield (_run_task(root, learnt, what, task) for what, _, task in ordered)
        return
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_run_task, root, learnt, what, task) for what, _, task in ordered]
        try:
            yield (done.result() for done in as_completed(futures))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_task(root: str, learnt: str, what: str, task: Callable) -> tuple[str, object, float]:
    start = time.perf_counter()
    return what, task(ModelRegistry(Path(root), Path(learnt))), time.perf_counter() - start


def missing(registry: ModelRegistry, fallback: str) -> list[str]:
    """The first steps whose model, reservoir or judge is not on disk (looked at, nothing loaded)."""
    out = [
        f"{c}/{m}"
        for c, m in first_models(fallback).items()
        if not (registry.path(c, m).exists() and registry.reservoir_path(c, m).exists())
    ]
    return out + ([] if registry.estimator_path("judge").exists() else ["judge"])
