"""Does learning from votes pay off? A simulated team votes for many rounds; compare the loops.

No real users here, so a voter with a hidden taste stands in: it likes short names (4-7 characters),
that the judge finds tech-like (npm or PyPI), and that are easy to say (letters only, no run of three
consonants or three vowels). Each round a request asks for n names from a corpus; the configuration
decides which model generates (uniformly at random, or the Thompson-sampling bandit) and which n of
the sampled pool are shown (at random, by the judge alone, or by the judge + a reranker retrained on
the votes so far every few rounds). The voter sees every shown name and up-votes it with its hidden
probability. ``believability`` shows n names drawn from the model's reservoir (the cold-start ranking
of models.believability); the reranker starts from the same reservoir and, once trained, reranks a
pool of 100 drawn from it. The ``oracle`` knows the hidden taste and shows the pool's n best by it:
the loop's up-vote rate reads as a fraction of the best possible. The same functions the workers use do the work (models.ranking, models.bandit,
models.reranker); only the voter and the bookkeeping are here.

Run: ``.venv/bin/python -m bench.feedback_loop`` (the models `tnaas train` made, in TNAAS_ARTIFACTS_DIR).
"""

from __future__ import annotations

import argparse
import re
import statistics
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from models.bandit import standings, thompson_choice
from models.name_model import Candidate
from models.ranking import candidate_rows, choose_shown, pool_scores
from models.registry import ModelRegistry
from models.reranker import Reranker, enough_votes, evaluate_reranker, labels, voted_rows
from tnaas.settings import get_settings

TECH = ("npm", "pypi")


def hidden_taste(row: dict) -> float:
    """The simulated voter's probability of an up-vote (the loop never sees this function)."""
    name = row["name"]
    short = 1.0 if 4 <= len(name) <= 7 else 0.4 if len(name) in (3, 8) else 0.0
    easy = name.isalpha() and not re.search(r"[^aeiouy]{3}|[aeiouy]{3}", name)
    tech = sum((row.get("judge") or {}).get(c, 0.0) for c in TECH)
    return 0.02 + 0.8 * short * float(easy) * tech


@dataclass(frozen=True)
class Config:
    name: str
    ordering: str  # "random", "judge", "believability", "reranker" or "oracle"
    bandit: bool


CONFIGS = [
    Config("random order, random model", "random", False),
    Config("judge order, random model", "judge", False),
    Config("believability, random model", "believability", False),
    Config("reranker, random model", "reranker", False),
    Config("random order, bandit", "random", True),
    Config("reranker + bandit", "reranker", True),
    Config("oracle (knows the taste), random model", "oracle", False),
]


@dataclass
class LoopResult:
    config: Config
    up_rate: list[float]  # per round
    rows: list[dict]
    counts: dict[str, tuple[int, int]]
    reranker_trained_at: int | None


def run_loop(registry: ModelRegistry, corpora: list[str], models: list[str], config: Config, rounds: int, seed: int,
             n: int = 5, pool: int = 100, explore: float = 0.2, retrain_every: int = 20, taste=hidden_taste) -> LoopResult:
    rng = np.random.default_rng(seed)
    judge = registry.estimator("judge")
    counts = {(c, m): [0, 0] for c in corpora for m in models}  # (up, shown)
    rows_log: list[dict] = []
    reranker, trained_at, rates = None, None, []
    for r in range(rounds):
        corpus = corpora[int(rng.integers(len(corpora)))]
        if config.bandit:
            model = thompson_choice({m: tuple(counts[corpus, m]) for m in models}, rng)
        else:
            model = models[int(rng.integers(len(models)))]
        from_reservoir = config.ordering == "believability" or (config.ordering == "reranker" and reranker is None)
        if config.ordering in ("believability", "reranker"):
            reservoir = registry.reservoir(corpus, model)
            found = [Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False)
                     for i in reservoir.draw(n if from_reservoir else pool, rng)]
        else:
            found = registry.model(corpus, model).generate(pool, rng)
        rows = candidate_rows(found, corpus, model, judge, scorers={m: registry.model(corpus, m) for m in models})
        if config.ordering == "random":
            shown = [(int(i), True) for i in rng.choice(len(rows), min(n, len(rows)), replace=False)]
        elif from_reservoir:
            shown = [(i, False) for i in range(len(rows))]
        elif config.ordering == "oracle":
            shown = [(int(i), False) for i in np.argsort([-taste(r) for r in rows], kind="stable")[:n]]
        else:
            scores = pool_scores(rows, reranker if config.ordering == "reranker" else None)
            shown = choose_shown(scores, n, explore, rng)
        ups = 0
        for position, (i, explored) in enumerate(shown, 1):
            up = int(rng.random() < taste(rows[i]))
            ups += up
            rows_log.append(rows[i] | {"channel": "sim", "ts": str(r), "index": position, "explore": explored,
                                       "up": up, "down": 0, "shown_at": float(r)})
        counts[corpus, model][0] += ups
        counts[corpus, model][1] += len(shown)
        rates.append(ups / max(1, len(shown)))
        if config.ordering == "reranker" and (r + 1) % retrain_every == 0:
            voted = voted_rows(rows_log)
            if enough_votes(voted)[0]:
                reranker = Reranker().fit(voted, labels(voted))
                trained_at = trained_at if trained_at is not None else r + 1
    per_model: dict[str, list[int]] = {}
    for (_, m), (up, shown) in counts.items():
        per_model.setdefault(m, [0, 0])
        per_model[m][0] += up
        per_model[m][1] += shown
    return LoopResult(config, rates, rows_log, {m: tuple(v) for m, v in per_model.items()}, trained_at)


def block_means(rates: list[float], block: int) -> list[float]:
    return [float(np.mean(rates[i:i + block])) for i in range(0, len(rates), block)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--corpora", default="pypi,npm,pokemon")
    parser.add_argument("--models", default="kn5,kn3,markov3,markov2")
    args = parser.parse_args()
    registry = ModelRegistry(get_settings().artifacts_dir)
    corpora, models = args.corpora.split(","), args.models.split(",")
    console = Console(width=200)
    console.print(f"{args.rounds} rounds x 5 names, pool 100, corpora {corpora}, models {models}, {args.seeds} seeds")

    results: dict[str, list[LoopResult]] = {}
    for config in CONFIGS:
        results[config.name] = [run_loop(registry, corpora, models, config, args.rounds, seed) for seed in range(args.seeds)]

    blocks = len(block_means(list(range(args.rounds)), args.block))
    table = Table("configuration", *[f"rounds {i * args.block + 1}-{min(args.rounds, (i + 1) * args.block)}" for i in range(blocks)],
                  "last half", "votes to beat random", title="up-vote rate per round (mean over seeds)")
    baseline = [statistics.mean(res.up_rate[args.rounds // 2:]) for res in results[CONFIGS[0].name]]
    for name, runs in results.items():
        per_block = np.mean([block_means(res.up_rate, args.block) for res in runs], axis=0)
        last_half = [statistics.mean(res.up_rate[args.rounds // 2:]) for res in runs]
        trained = [res.reranker_trained_at for res in runs if res.reranker_trained_at]
        table.add_row(name, *[f"{v:.3f}" for v in per_block],
                      f"{statistics.mean(last_half):.3f} ± {statistics.stdev(last_half) if len(last_half) > 1 else 0:.3f}",
                      f"reranker from round {int(np.median(trained))}" if trained else "")
    console.print(table)
    console.print(f"random ordering, last half: {statistics.mean(baseline):.3f}")
    cold = {name: statistics.mean(statistics.mean(res.up_rate[:args.block]) for res in runs) for name, runs in results.items()}
    late = {name: statistics.mean(statistics.mean(res.up_rate[args.rounds // 2:]) for res in runs) for name, runs in results.items()}
    oracle = CONFIGS[-1].name
    summary = Table("configuration", f"rounds 1-{args.block}", "vs random order", "of the oracle", "last half", "of the oracle",
                    title="cold start and the share of the best possible (oracle: shows the pool's best by the hidden taste)")
    for name in results:
        summary.add_row(name, f"{cold[name]:.3f}", f"{cold[name] / cold[CONFIGS[0].name]:.2f}x", f"{cold[name] / cold[oracle]:.0%}",
                        f"{late[name]:.3f}", f"{late[name] / late[oracle]:.0%}")
    console.print(summary)

    for name in (CONFIGS[0].name, "reranker + bandit"):
        model_table = Table("model", "shown", "up-voted", "posterior mean", "90% interval", "P(best)",
                            title=f"model standings after the run: {name} (seed 0)")
        for s in standings(results[name][0].counts):
            model_table.add_row(s.arm, str(s.shown), str(s.up), f"{s.mean:.3f}", f"{s.low:.3f}-{s.high:.3f}", f"{s.p_best:.0%}")
        console.print(model_table)

    # Offline: ROC AUC on held-out votes, from the unbiased log (random order, random model).
    for res in results[CONFIGS[0].name][:1]:
        metrics = evaluate_reranker(res.rows)
        console.print(f"offline, held-out by round (random-order log, {len(res.rows)} impressions): reranker ROC AUC "
                      f"{metrics['heldout_auc']}, judge believability alone {metrics['believability_auc']}, "
                      f"up-rate {metrics['heldout_up_rate']}")
    ceiling = []
    for res in results[CONFIGS[0].name]:
        ceiling.append(float(np.mean([hidden_taste(r) for r in res.rows])))
    console.print(f"expected up-rate of a random shown name under the hidden taste: {statistics.mean(ceiling):.3f}")


if __name__ == "__main__":
    main()
