"""The whole loop on real trained models: votes -> reranker -> better names, measured against random order."""

import re

import numpy as np
from scipy import stats

from models.name_model import Candidate
from models.ranking import candidate_rows
from models.registry import ModelRegistry
from testkit.simulated_team import CONFIGS, asked_style_taste, run_loop


def likes_short_easy_names(row: dict) -> float:
    name = row["name"]
    easy = name.isalpha() and not re.search(r"[^aeiouy]{3}|[aeiouy]{3}", name)
    return 0.03 + 0.6 * (4 <= len(name) <= 6) * easy


def test_reranked_names_get_more_up_votes_than_random_order_after_a_few_hundred_votes(trained_artifacts):
    registry = ModelRegistry(trained_artifacts)
    config = {c.ordering: c for c in CONFIGS if not c.bandit}
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


def test_a_team_wanting_the_style_it_asked_for_likes_the_cold_start_more_than_plain_samples(trained_artifacts):
    # The cold start (names drawn from the believable reservoir) against what the model samples
    # unranked, scored by the simulated team that wants short, easy names in the asked corpus' style.
    registry = ModelRegistry(trained_artifacts)
    judge = registry.estimator("judge")
    for corpus, model in (("pokemon", "kn3"), ("pokemon", "markov2")):
        reservoir = registry.reservoir(corpus, model)
        rng = np.random.default_rng(0)
        drawn = [Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False) for i in reservoir.draw(1000, rng)]
        sampled = registry.model(corpus, model).generate(1000, rng)
        liked = {
            kind: [asked_style_taste(row) for row in candidate_rows(found, corpus, model, judge)]
            for kind, found in (("drawn", drawn), ("sampled", sampled))
        }
        p = stats.mannwhitneyu(liked["drawn"], liked["sampled"], alternative="greater").pvalue
        assert p < 1e-3 and np.mean(liked["drawn"]) > 1.2 * np.mean(liked["sampled"]), (corpus, model, p)
