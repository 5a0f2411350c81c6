"""Does learning from votes pay off? A simulated team (``testkit.simulated_team``) votes for many
rounds; compare the loops: random or bandit model choice; random, judge, believability (the
reservoir: the cold start) or reranker order; and an oracle that knows the hidden taste.

Run: ``.venv/bin/python -m bench.feedback_loop`` (the models `tnaas train` made, in TNAAS_ARTIFACTS_DIR).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from rich.console import Console
from rich.table import Table

from core.settings import get_settings
from core.standings import standings
from corpora import load_corpus
from models.name_model import Candidate
from models.ranking import candidate_rows
from models.registry import ModelRegistry
from models.reranker import evaluate_reranker
from testkit.simulated_team import (
    CONFIGS,
    ORACLE,
    PRODUCTION,
    TASTES,
    TECH,
    LoopResult,
    asked_style_taste,
    hidden_taste,
    run_loop,
    short_and_easy,
)


def standard_error(values: list[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0


def block_means(rates: list[float], block: int) -> list[float]:
    return [float(np.mean(rates[i : i + block])) for i in range(0, len(rates), block)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--corpora", default="pypi,npm,pokemon")
    parser.add_argument("--models", default="kn5,kn3,markov3,markov2")
    parser.add_argument("--tastes", default=",".join(TASTES), help="simulated teams (testkit.simulated_team)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only what each team's taste makes of corpus names, random samples and the reservoir (no loop)",
    )
    args = parser.parse_args()
    registry = ModelRegistry(get_settings().artifacts_dir)
    console = Console(width=200)
    if args.profile:
        taste_profile(registry, args.corpora.split(","), args.models.split(","), console)
        return
    for taste in args.tastes.split(","):
        report(registry, args, taste, console)


def taste_profile(registry: ModelRegistry, corpora: list[str], models: list[str], console: Console, size: int = 2000):
    """Why a cold start can or cannot beat random order: per corpus and model, the mean of each taste's
    factors over the corpus' own names, plain samples (what random order shows) and reservoir draws
    (what the cold start shows). A ranking for believability moves names towards the corpus' own; when
    the corpus' own names please a team less than plain samples do, no such ranking can beat random."""
    judge = registry.estimator("judge")
    rng = np.random.default_rng(0)
    table = Table(
        "corpus",
        "model",
        "names",
        "short & easy",
        "judge: asked corpus",
        "judge: npm + PyPI",
        "tech team's P(up)",
        "style team's P(up)",
        "length",
        title=f"taste factors, mean over {size} names (the loop's cold start draws from the reservoir, "
        "random order from plain samples)",
    )
    for corpus in corpora:
        words = sorted(set(load_corpus(corpus)))
        real = [Candidate(words[i], 0.0, True) for i in rng.choice(len(words), min(size, len(words)), replace=False)]
        for model in models:
            reservoir = registry.reservoir(corpus, model)
            drawn = [
                Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False)
                for i in rng.choice(len(reservoir), min(size, len(reservoir)), replace=False)
            ]
            plain = registry.model(corpus, model).generate(size, rng)
            for label, found in (("corpus names", real), ("plain samples", plain), ("reservoir", drawn)):
                if label == "corpus names" and model != models[0]:
                    continue
                rows = candidate_rows(found, corpus, model, judge)
                table.add_row(
                    corpus,
                    model if label != "corpus names" else "",
                    label,
                    f"{np.mean([short_and_easy(r['name']) for r in rows]):.3f}",
                    f"{np.mean([r['judge'][corpus] for r in rows]):.3f}",
                    f"{np.mean([sum(r['judge'].get(c, 0.0) for c in TECH) for r in rows]):.3f}",
                    f"{np.mean([hidden_taste(r) for r in rows]):.3f}",
                    f"{np.mean([asked_style_taste(r) for r in rows]):.3f}",
                    f"{np.mean([len(r['name']) for r in rows]):.1f}",
                )
    console.print(table)
    console.print(
        "corpus names were in the judge's training data (it is trained on whole corpora), so their "
        "'asked corpus' column is optimistic"
    )


def report(registry: ModelRegistry, args: argparse.Namespace, taste_name: str, console: Console) -> None:
    taste = TASTES[taste_name]
    corpora, models = args.corpora.split(","), args.models.split(",")
    console.rule(f"the {taste_name!r} team ({taste.__name__})")
    console.print(f"{args.rounds} rounds x 5 names, pool 100, corpora {corpora}, models {models}, {args.seeds} seeds")

    results: dict[str, list[LoopResult]] = {}
    for config in CONFIGS:
        results[config.name] = [
            run_loop(registry, corpora, models, config, args.rounds, seed, taste=taste) for seed in range(args.seeds)
        ]

    blocks = len(block_means(list(range(args.rounds)), args.block))
    table = Table(
        "configuration",
        *[f"rounds {i * args.block + 1}-{min(args.rounds, (i + 1) * args.block)}" for i in range(blocks)],
        "last half",
        "votes to beat random",
        title="up-vote rate per round (mean over seeds)",
    )
    baseline = [statistics.mean(res.up_rate[args.rounds // 2 :]) for res in results[CONFIGS[0].name]]
    for name, runs in results.items():
        per_block = np.mean([block_means(res.up_rate, args.block) for res in runs], axis=0)
        last_half = [statistics.mean(res.up_rate[args.rounds // 2 :]) for res in runs]
        trained = [res.reranker_trained_at for res in runs if res.reranker_trained_at]
        table.add_row(
            name,
            *[f"{v:.3f}" for v in per_block],
            f"{statistics.mean(last_half):.3f} ± {statistics.stdev(last_half) if len(last_half) > 1 else 0:.3f}",
            f"reranker from round {int(np.median(trained))}" if trained else "",
        )
    console.print(table)
    console.print(f"random ordering, last half: {statistics.mean(baseline):.3f}")
    per_seed = {k: [statistics.mean(res.up_rate[: args.block]) for res in runs] for k, runs in results.items()}
    cold = {k: statistics.mean(v) for k, v in per_seed.items()}
    # paired by seed: every configuration meets the same corpora in the same rounds
    paired = {k: [a - b for a, b in zip(v, per_seed[CONFIGS[0].name])] for k, v in per_seed.items()}
    late = {
        k: statistics.mean(statistics.mean(res.up_rate[args.rounds // 2 :]) for res in runs)
        for k, runs in results.items()
    }
    summary = Table(
        "configuration",
        f"rounds 1-{args.block}",
        "minus random order (paired by seed, ± s.e.)",
        "vs random order",
        "of the oracle",
        "last half",
        "of the oracle",
        title="cold start, and the share of the best possible (the oracle shows the pool's best by the hidden taste)",
    )
    for name in results:
        summary.add_row(
            name,
            f"{cold[name]:.3f}",
            f"{statistics.mean(paired[name]):+.3f} ± {standard_error(paired[name]):.3f}",
            f"{cold[name] / cold[CONFIGS[0].name]:.2f}x",
            f"{cold[name] / cold[ORACLE]:.0%}",
            f"{late[name]:.3f}",
            f"{late[name] / late[ORACLE]:.0%}",
        )
    console.print(summary)

    for name in (CONFIGS[0].name, PRODUCTION):
        model_table = Table(
            "model",
            "shown",
            "up-voted",
            "posterior mean",
            "90% interval",
            "P(best)",
            title=f"model standings after the run: {name} (seed 0)",
        )
        for s in standings(results[name][0].counts):
            model_table.add_row(
                s.arm, str(s.shown), str(s.up), f"{s.mean:.3f}", f"{s.low:.3f}-{s.high:.3f}", f"{s.p_best:.0%}"
            )
        console.print(model_table)

    # Offline: ROC AUC on held-out votes, from the unbiased log (random order, random model).
    for res in results[CONFIGS[0].name][:1]:
        metrics = evaluate_reranker(res.rows)
        console.print(
            f"offline, held-out by round (random-order log, {len(res.rows)} impressions): reranker ROC AUC "
            f"{metrics['heldout_auc']}, judge believability alone {metrics.get('believability_auc')}, "
            f"up-rate {metrics.get('heldout_up_rate')} (None: a side of the split had no up-vote)"
        )
    ceiling = []
    for res in results[CONFIGS[0].name]:
        ceiling.append(float(np.mean([taste(r) for r in res.rows])))
    console.print(
        f"expected up-rate of a random shown name under the {taste_name!r} taste: {statistics.mean(ceiling):.3f}"
    )


if __name__ == "__main__":
    main()
