"""Completion latency, generation throughput and training time of the name models.

Run: ``.venv/bin/python -m bench.sampling_speed``. Single process, so figures are per core.
Target: 100 samples of an 8-character pattern with 4 unknowns at order 4 in under 5 ms (median).
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import median_ms, p99_ms, timed
from core.model_names import default_models
from corpora import corpus_names, load_corpus
from models.catalog import make_lm
from models.name_model import NameModel
from models.pattern import encode_pattern
from models.registry import ModelRegistry
from models.sampling import backward_sample, forward_filter
from models.training import train_one
from testkit.names import standard_split

PATTERNS = ["m*r**n*a", "**ri**na", "****lina", "jo**ph**", "a*e*l*n*"]


def completion(console: Console) -> None:
    train, _, _ = standard_split()
    rng = np.random.default_rng(0)
    table = Table("model", "pattern", "median ms / 100 samples", "p99 ms", "states alive (max)")
    for name in ["kn4", "kn5", "markov4"]:
        model = NameModel(make_lm(name), "names").fit(train)
        a = model.automaton_
        for pattern in PATTERNS:
            ids = encode_pattern(pattern, a)
            times = timed(lambda: backward_sample(forward_filter(a, ids), 100, rng), 200)
            alive = max(len(s) for s in forward_filter(a, ids).states)
            table.add_row(name, pattern, f"{median_ms(times):.2f}", f"{p99_ms(times):.2f}", str(alive))
        times = timed(lambda: model.complete("m*r**n*a", 5, rng), 100)
        table.add_row(name, "complete(n=5), distinct + scored", f"{median_ms(times):.2f}", f"{p99_ms(times):.2f}", "")
    console.print(table)


def generation(console: Console) -> None:
    table = Table("corpus", "model", "names/s (one core)", "n=5 distinct novel: median ms")
    rng = np.random.default_rng(0)
    for corpus in ["pokemon", "pypi"]:
        words = load_corpus(corpus)
        for name in ["kn5", "markov3"]:
            model = NameModel(make_lm(name), corpus).fit(words)
            secs = timed(lambda: model.sample(10000, rng), 5)
            table.add_row(
                corpus,
                name,
                f"{10000 / np.median(secs):,.0f}",
                f"{median_ms(timed(lambda: model.generate(5, rng), 50)):.2f}",
            )
            if name.startswith("markov"):
                secs = timed(lambda: model.lm.walk(10000, rng, 32), 5)
                table.add_row(corpus, name + " (markovify walk)", f"{10000 / np.median(secs):,.0f}", "")
    console.print(table)


def training(console: Console) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = ModelRegistry(tmp)
        per_model: dict[str, float] = {}
        start = time.perf_counter()
        for corpus in corpus_names():
            for name in default_models():
                t = time.perf_counter()
                train_one(registry, corpus, name, force=True)
                per_model[name] = per_model.get(name, 0.0) + time.perf_counter() - t
        total = time.perf_counter() - start
    table = Table("model", "seconds, all corpora (incl. held-out evaluation)")
    for name, secs in per_model.items():
        table.add_row(name, f"{secs:.1f}")
    table.add_row("all", f"{total:.1f}")
    console.print(table)


if __name__ == "__main__":
    out = Console(width=160)
    completion(out)
    generation(out)
    training(out)
