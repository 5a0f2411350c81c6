"""What a fresh stack shows: 100 requests per corpus before any vote, each answered by the model the
request pipeline picks, measured against the corpus' default model alone (the benchmark's choice,
models/default_models.json).

As ``bench.believability`` measures a model: every competing model (kn5, kn3, markov3, markov2) is
trained on 60% of the corpus with its believable reservoir (the tier ``tnaas train`` keeps); the rest is
never seen by the models. Two detectors (``linear``, ``forest``) learn held-out real names against plain
samples of all those models in equal parts (so none is favoured) and say which shown names they call real.

Policies, over the same 100 request seeds:
- ``before``: Thompson sampling over uniform priors of each model's (up-votes, names shown), every
  request's names counted as shown, no vote: the pick spreads over every model, and any reservoir
  is served, however small;
- ``now``: ``models.bandit.choose_model`` with the same impressions and no vote (the default until votes
  say otherwise), a reservoir served only if it holds ``RESERVOIR_NAMES_PER_N`` x max_n names, else the
  model's samples ranked by the corpus judge (as ``jobs.pipeline.generate`` falls back);
- ``default alone``: the default model's reservoir, every request.

Per policy: the share of shown names each detector calls real (mean over all names, and the median of
the 100 requests' shares), distinct names / names shown, and which models answered.

Run: ``.venv/bin/python -m bench.believability --fresh-stack`` (every corpus, about 30-60 min on 2 cores;
``--corpora pokemon,cats`` for fewer; ``-n`` names per request, default 10).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.believability import DEFAULTS_FILE, MAX_DETECTOR_REAL, Detector, split_corpus, trained_pair
from core.limits import RESERVOIR_NAMES_PER_N
from core.model_names import TRAINED_BY_DEFAULT
from core.settings import Settings
from corpora import corpus_names, load_corpus
from models.bandit import choose_model, thompson_choice
from models.believability import POOL, reservoir_from, score_candidates, temperature_for
from models.decency import default_blocklist
from models.judge import CorpusJudge
from models.ranking import candidate_rows, choose_shown, pool_scores

log = logging.getLogger(__name__)
POLICIES = ("before", "now", "default alone")


def picks_before(arms: list[str], n: int, requests: int, seed: int) -> list[str]:
    """The model each request got before: Thompson sampling over uniform Beta priors of (up, shown),
    each request's n names counted as shown, no vote cast."""
    rng, shown, picks = np.random.default_rng(seed), dict.fromkeys(arms, 0), []
    for _ in range(requests):
        model = thompson_choice({m: (0, shown[m]) for m in arms}, rng)
        shown[model] += n
        picks.append(model)
    return picks


def picks_now(arms: list[str], default: str, requests: int, seed: int) -> list[str]:
    """The model each request gets now, with the same impressions and no vote: no name is judged."""
    rng = np.random.default_rng(seed)
    evidence = dict.fromkeys(arms, (0, 0))
    return [choose_model(None, arms, evidence, rng, default)[0] for _ in range(requests)]


def shown_names(picks, reservoirs, models, corpus: str, judge, n: int, least: int) -> list[list[str]]:
    """Each request's n names: from its model's reservoir if it holds ``least`` names (0: any), else
    the model's samples ranked by the corpus judge."""
    out = []
    for seed, model_name in enumerate(picks):
        rng = np.random.default_rng(seed)
        reservoir = reservoirs[model_name]
        if len(reservoir) >= least:
            out.append([reservoir.names[i] for i in reservoir.draw(n, rng)])
            continue
        rows = candidate_rows(models[model_name].generate(max(n, 100), rng), corpus, model_name, judge)
        out.append([rows[i]["name"] for i, _ in choose_shown(pool_scores(rows), n, 0.2, rng)])
    return out


def measure_corpus(
    corpus: str, default: str, arms: list[str], n: int, seed: int, judge: CorpusJudge, pool: int = POOL
) -> dict:
    train, held = split_corpus(load_corpus(corpus), seed)
    models, reservoirs = {}, {}
    for model_name in arms:
        model, believability, near, info, rng = trained_pair(corpus, model_name, train, seed)
        candidates = score_candidates(model, believability, near, rng, pool, temperature_for(corpus, model_name))
        models[model_name] = model
        reservoirs[model_name] = reservoir_from(*candidates, model, near, default_blocklist(), info, by_length=True)
        log.info("%s/%s: reservoir of %d names", corpus, model_name, len(reservoirs[model_name]))
    rng = np.random.default_rng(seed)
    real = held if len(held) <= MAX_DETECTOR_REAL else list(rng.choice(held, MAX_DETECTOR_REAL, replace=False))
    fake = [
        c.name for i, m in enumerate(arms) for c in models[m].generate(len(real) // len(arms), np.random.default_rng(i))
    ]
    detectors = {f: Detector(f, grouped=True).fit(real, fake, seed) for f in ("linear", "forest")}
    least = RESERVOIR_NAMES_PER_N * Settings().max_n
    picks = {
        "before": picks_before(arms, n, 100, seed),
        "now": picks_now(arms, default, 100, seed),
        "default alone": [default] * 100,
    }
    shown = {
        "before": shown_names(picks["before"], reservoirs, models, corpus, judge, n, 0),
        "now": shown_names(picks["now"], reservoirs, models, corpus, judge, n, least),
        "default alone": shown_names(picks["default alone"], reservoirs, models, corpus, judge, n, 0),
    }
    out = {
        "corpus": corpus,
        "default": default,
        "heldout": {f: d.heldout_called_real for f, d in detectors.items()},
        "reservoirs": {m: len(r) for m, r in reservoirs.items()},
        "policies": {},
    }
    for policy, requests in shown.items():
        names = [x for request in requests for x in request]
        out["policies"][policy] = {
            "called_real": {f: d.called_real(names) for f, d in detectors.items()},
            "median_request": {f: float(np.median([d.called_real(r) for r in requests])) for f, d in detectors.items()},
            "distinct": len(set(names)) / len(names),
            "models": dict(Counter(picks[policy])),
            "examples": names[:8],
        }
    return out


def print_fresh(results: list[dict], console: Console) -> None:
    table = Table(
        "corpus (default)",
        "detector",
        "held-out real",
        *(f"{p}: called real (median request)" for p in POLICIES),
        "now - default alone",
        "distinct before / now",
        "models before",
        title="A fresh stack, 100 requests per corpus, no vote: share of shown names called real",
    )
    for r in results:
        p = r["policies"]
        for i, f in enumerate(("linear", "forest")):
            table.add_row(
                f"{r['corpus']} ({r['default']})" if i == 0 else "",
                f,
                f"{r['heldout'][f]:.3f}",
                *(f"{p[k]['called_real'][f]:.3f} ({p[k]['median_request'][f]:.2f})" for k in POLICIES),
                f"{p['now']['called_real'][f] - p['default alone']['called_real'][f]:+.3f}",
                f"{p['before']['distinct']:.2f} / {p['now']['distinct']:.2f}" if i == 0 else "",
                " ".join(f"{m}:{c}" for m, c in sorted(p["before"]["models"].items())) if i == 0 else "",
            )
    console.print(table)
    for r in results:
        small = {m: s for m, s in r["reservoirs"].items() if s < RESERVOIR_NAMES_PER_N * Settings().max_n}
        console.print(
            f"{r['corpus']}: reservoirs {r['reservoirs']}"
            + (f"; too small to serve: {small}" if small else "")
            + f"; now e.g. {', '.join(r['policies']['now']['examples'][:6])}"
        )


def run(
    corpora: list[str],
    n: int,
    seed: int,
    console: Console,
    models: list[str] | None = None,
    pool: int = POOL,
    save: Path | None = None,
) -> list[dict]:
    defaults = json.loads(DEFAULTS_FILE.read_text())
    names, labels = [], []
    for c in corpus_names():  # the corpus judge (the fallback's ranking), on the same 60% of every corpus
        train, _ = split_corpus(load_corpus(c), seed)
        names += train
        labels += [c] * len(train)
    judge = CorpusJudge().fit(names, labels)
    results = []
    for corpus in corpora:
        default = defaults.get(corpus, Settings().default_model)
        arms = list(models or TRAINED_BY_DEFAULT)
        arms += [] if default in arms else [default]
        results.append(measure_corpus(corpus, default, arms, n, seed, judge, pool))
        log.info("%s done", corpus)
        if save is not None:  # a long run keeps what it has measured
            save.write_text(json.dumps({"fresh_stack": results}, indent=1))
    print_fresh(results, console)
    return results
