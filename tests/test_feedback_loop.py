"""The whole loop on real trained models: votes -> reranker -> better names, measured against random order."""

import re

import numpy as np
from scipy import stats

from models.registry import ModelRegistry
from testkit.simulated_team import CONFIGS, run_loop


def likes_short_easy_names(row: dict) -> float:
    name = row["name"]
    easy = name.isalpha() and not re.search(r"[^aeiouy]{3}|[aeiouy]{3}", name)
    return 0.03 + 0.6 * (4 <= len(name) <= 6) * easy


def test_reranked_names_get_more_up_votes_than_random_order_after_a_few_hundred_votes(trained_artifacts):
    registry = ModelRegistry(trained_artifacts)
    config = {c.ordering: c for c in CONFIGS if not c.bandit and not c.waits}
    runs = {
        ordering: run_loop(
            registry,
            ["pokemon", "cats"],
            ["kn3", "markov2"],
            config[ordering],
            rounds=160,
            seed=0,
            taste=likes_short_easy_names,
        )
        for ordering in ("random", "reranker")
    }
    late = {k: np.mean(run.up_rate[80:]) for k, run in runs.items()}  # rounds 81-160: after 400 impressions
    assert runs["reranker"].reranker_trained_at is not None and runs["reranker"].reranker_trained_at <= 80
    ups = {k: int(round(late[k] * 400)) for k in late}
    p = stats.fisher_exact(
        [[ups["reranker"], 400 - ups["reranker"]], [ups["random"], 400 - ups["random"]]], alternative="greater"
    ).pvalue
    assert p < 1e-3 and late["reranker"] > 1.5 * late["random"], late
