"""Learning from votes: ranking with exploration, the reranker, the bandit, the drift check."""

import math

import numpy as np
import pytest
from scipy import stats

from models.bandit import choose_model, posterior, prior, standings, thompson_choice
from models.drift import check_drift, drift_threshold
from models.ranking import choose_shown
from models.reranker import Reranker, enough_votes, evaluate_reranker, labels, split_by_message, voted_rows

LETTERS = list("abcdefghijklmnopqrstuvwxyz")


def synthetic_rows(
    count: int,
    rng: np.random.Generator,
    corpus_mix=(0.5, 0.5),
    start: float = 0.0,
    taste=lambda row: 0.05 + 0.6 * (len(row["name"]) <= 5),
) -> list[dict]:
    """Impressions of random names, 5 per message, voted by ``taste`` (a probability per row)."""
    rows = []
    for i in range(count):
        name = "".join(rng.choice(LETTERS, size=int(rng.integers(3, 10))))
        corpus = "pypi" if rng.random() < corpus_mix[0] else "pokemon"
        p = float(rng.random())
        row = {
            "channel": "C",
            "ts": str(i // 5),
            "index": i % 5 + 1,
            "name": name,
            "corpus": corpus,
            "model": "kn5",
            "pattern": None,
            "log_prob": -2.0 * (len(name) + 1),
            "known": False,
            "believability": p,
            "judge": {corpus: p, "npm": 1 - p},
            "down": 0,
            "shown_at": start + i,
        }
        row["up"] = int(rng.random() < taste(row))
        rows.append(row)
    return rows


# -- choosing what is shown -------------------------------------------------------------------------
def test_without_exploration_the_best_n_are_shown_best_first():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert choose_shown(scores, 3, 0.0, np.random.default_rng(0)) == [(1, False), (3, False), (2, False)]


def test_exploration_takes_its_share_at_random_from_the_rest():
    rng = np.random.default_rng(1)
    scores = np.arange(100, dtype=float)[::-1]  # index 0 is best
    explored, draws, positions = 0, 2000, []
    picked_from_rest = np.zeros(100)
    for _ in range(draws):
        shown = choose_shown(scores, 5, 0.2, rng)
        assert len({i for i, _ in shown}) == 5
        best = sorted(i for i, e in shown if not e)
        assert best == list(range(len(best)))  # the exploited ones are the top of the ranking
        for position, (i, e) in enumerate(shown):
            if e:
                explored += 1
                positions.append(position)
                picked_from_rest[i] += 1
    assert explored / (5 * draws) == pytest.approx(0.2, abs=0.02)  # E[explored] = n * explore
    assert stats.chisquare(np.bincount(positions, minlength=5)).pvalue > 1e-3  # no fixed slot for them
    rest = picked_from_rest[5:]  # every candidate outside the top 4-5 gets its chance
    assert stats.chisquare(rest[rest > 0]).pvalue > 1e-3 and (rest > 0).sum() >= 94


def test_a_pool_smaller_than_n_shows_everything():
    shown = choose_shown(np.array([0.2, 0.8]), 5, 0.2, np.random.default_rng(0))
    assert sorted(i for i, _ in shown) == [0, 1]


# -- the reranker -----------------------------------------------------------------------------------
def test_reranker_learns_a_taste_from_votes_on_held_out_messages():
    rows = synthetic_rows(1500, np.random.default_rng(2))
    metrics = evaluate_reranker(rows)
    assert metrics["heldout_auc"] > 0.85  # the taste (short names) is learnable from the name and its length
    assert 0.4 < metrics["believability_auc"] < 0.6  # the judge's score here is noise: no free ride


def test_reranker_finds_nothing_in_random_votes():
    rows = synthetic_rows(1500, np.random.default_rng(3), taste=lambda row: 0.3)
    auc = evaluate_reranker(rows)["heldout_auc"]
    se = math.sqrt(1 / 12 * (1 / 100 + 1 / 275))  # AUC standard error under no signal, ~375 rows, 27% positive
    assert abs(auc - 0.5) < 4 * se


def test_reranker_follows_scikit_learn_conventions():
    rows = synthetic_rows(300, np.random.default_rng(4))
    model = Reranker(C=0.5)
    assert model.fit(rows, labels(rows)) is model and model.get_params()["C"] == 0.5
    proba = model.predict_proba(rows[:7])
    assert proba.shape == (7, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.predict(rows)) <= {0, 1}


def test_only_voted_messages_train_and_the_split_keeps_messages_whole():
    rows = synthetic_rows(50, np.random.default_rng(5), taste=lambda row: 0.0)
    rows[7]["up"] = 1  # one vote in message "1"
    assert {r["ts"] for r in voted_rows(rows)} == {"1"}
    ready, why = enough_votes(voted_rows(rows))
    assert not ready and "need" in why
    train, test = split_by_message(synthetic_rows(400, np.random.default_rng(6)))
    assert not {r["ts"] for r in train} & {r["ts"] for r in test}


# -- the bandit -------------------------------------------------------------------------------------
def test_thompson_sampling_moves_to_the_better_model():
    rng = np.random.default_rng(7)
    rates = {"kn5": 0.30, "kn3": 0.20, "markov2": 0.10}
    counts = {arm: (0, 0) for arm in rates}
    pulls = {arm: 0 for arm in rates}
    for step in range(3000):
        arm = thompson_choice(counts, rng)
        up = int(rng.random() < rates[arm])
        counts[arm] = (counts[arm][0] + up, counts[arm][1] + 1)
        if step >= 2000:
            pulls[arm] += 1
    assert pulls["kn5"] > 800  # of the last 1000 choices
    assert counts["markov2"][1] > 20  # ... yet the worst arm was tried


ARMS = ["kn5", "kn3", "markov3", "markov2"]


def picks(evidence, default="kn3", requests=400, seed=11) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    return [choose_model(None, ARMS, evidence, rng, default) for _ in range(requests)]


@pytest.mark.parametrize("shown", [0, 5, 10_000])
def test_before_any_vote_every_request_gets_the_default(shown):
    """However many names were shown, none judged (no message voted on): the benchmark's choice, said so."""
    evidence = {m: (0, 0) for m in ARMS} if shown else {}
    assert set(picks(evidence)) == {("kn3", "default")}
    assert set(picks(None)) == {("kn3", "default")}  # no stack to ask (the command line alone)


def test_a_named_model_is_the_requests():
    assert choose_model("MARKOV2", ARMS, {"kn3": (0, 9)}, np.random.default_rng(0), "kn3") == ("markov2", "request")


def test_the_prior_ranks_the_default_first_then_the_catalog():
    means = {m: a / (a + b) for m, (a, b) in prior(ARMS, "kn3").items()}
    assert sorted(means, key=means.get, reverse=True) == ["kn3", "kn5", "markov3", "markov2"]


def test_a_few_votes_do_not_throw_the_default_away():
    """One message voted on (one name up of five): the default stays the usual pick, and the bandit says it decided."""
    chosen = picks({"kn3": (1, 5)})
    share = sum(m == "kn3" for m, _ in chosen) / len(chosen)
    assert share > 0.6 and {why for _, why in chosen} == {"bandit"}


def test_votes_move_the_choice_to_the_model_the_team_likes():
    """The default's judged names never up-voted, markov2's often: votes decide against the benchmark."""
    chosen = picks({"kn3": (0, 60), "markov2": (20, 40)})
    assert sum(m == "markov2" for m, _ in chosen) / len(chosen) > 0.8


def test_thompson_choice_matches_the_posterior_probability_of_being_best():
    counts = {"a": (30, 100), "b": (25, 100)}
    rng = np.random.default_rng(8)
    picks = [thompson_choice(counts, rng) for _ in range(4000)]
    p_a = next(s.p_best for s in standings(counts, draws=200_000) if s.arm == "a")
    assert picks.count("a") / len(picks) == pytest.approx(p_a, abs=3 * math.sqrt(p_a * (1 - p_a) / 4000))


def test_standings_are_beta_posteriors():
    table = standings({"kn5": (12, 40), "markov2": (1, 40), "new": (0, 0)})
    by_arm = {s.arm: s for s in table}
    a, b = posterior(12, 40)
    assert by_arm["kn5"].mean == pytest.approx(a / (a + b))
    assert by_arm["kn5"].low == pytest.approx(stats.beta.ppf(0.05, a, b))
    assert by_arm["new"].mean == pytest.approx(0.5)  # no evidence: the uniform prior
    assert sum(s.p_best for s in table) == pytest.approx(1)
    assert table[0].arm == "new" and by_arm["kn5"].p_best > by_arm["markov2"].p_best


# -- drift ------------------------------------------------------------------------------------------
def test_no_drift_when_recent_requests_come_from_the_same_stream():
    rows = synthetic_rows(1200, np.random.default_rng(9))
    report = check_drift(rows[:600], rows[600:])
    assert not report.drifted and report.accuracy < report.threshold
    assert report.auc == pytest.approx(0.5, abs=0.08)


def test_drift_when_the_team_moves_to_another_corpus():
    old = synthetic_rows(600, np.random.default_rng(10), corpus_mix=(0.9, 0.1))
    new = synthetic_rows(600, np.random.default_rng(11), corpus_mix=(0.1, 0.9), start=1e6)
    report = check_drift(old, new)
    assert report.drifted and report.accuracy > 0.75 and "retrain" in report.advice


def test_drift_needs_enough_rows_and_the_threshold_means_three_standard_errors():
    report = check_drift(synthetic_rows(10, np.random.default_rng(12)), synthetic_rows(500, np.random.default_rng(13)))
    assert not report.drifted and report.accuracy is None and "Too few" in report.advice
    assert drift_threshold(10_000) == 0.6 and drift_threshold(100) == pytest.approx(0.5 + 1.5 / math.sqrt(200))
