"""What a team corpus shows, on lists the project does not generate from and never tuned on (one-word
PyPI names, Debian's project names) subsampled to 30, 100, 300 and 1,000 names: over 100 requests of
10 names each (seeds 0-99), the share of distinct names, novelty (not in the list), near-copies (one
edit from a listed name), against the targets 95%, 100% and at most 5%; and believability as
``bench/believability.py`` measures it: a linear detector (character 2-5-grams, cross-fitted, near
duplicates in one fold) trained on 500 real names of the source that are not in the list against the
served model's plain samples calls the shown names real how often, next to how often it calls those
held-out real names real (target: at least as often).

Run: ``.venv/bin/python -m bench.team_corpus_quality`` (a few minutes); ``--models kn1,kn2,kn3 --sizes 30,100``
trains each of those models instead of the one the size calls for; ``--sources npm,swedish,superheroes``
measures the lists the team reservoir was tuned on (``models/team_corpus.py``) instead.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np

from bench.believability import Detector
from core.settings import Settings
from corpora import load_corpus
from models import team_artifacts
from models.believability import NearCopies
from models.team_corpus import train_team_corpus
from models.team_prior import team_prior, weight_for

SOURCES = ("pypi-words", "debian")
SIZES = (30, 100, 300, 1_000)
REQUESTS, N = 100, 10
HELD_OUT = 500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="", help="models to compare (default: the one each size calls for)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument(
        "--sources", default=",".join(SOURCES), help="lists to measure on (tune on others: npm,swedish,superheroes)"
    )
    parser.add_argument(
        "--weights", default="", help="the team model's weights to compare (default: the one each size calls for)"
    )
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m] or [None]
    weights = [float(w) for w in args.weights.split(",") if w] or [None]
    prior = team_prior(Settings().data_dir)
    print(
        "source      names  model  weight  reservoir  distinct  novelty  near-copies  called real: shown  held-out real"
    )
    for source in args.sources.split(","):
        words = load_corpus(source)
        for size, model_name, weight in (
            (int(s), m, w) for s in args.sizes.split(",") for m in models for w in weights
        ):
            sample = random.Random(size).sample(words, size + HELD_OUT)
            names, held = sample[:size], sample[size:]
            weight = weight_for(size) if weight is None else weight
            trained = train_team_corpus("bench", names, model_name, prior, weight)
            with tempfile.TemporaryDirectory() as tmp:
                model, _, reservoir = team_artifacts.write_and_load(Path(tmp), trained.model, trained.reservoir)
                shown = [
                    reservoir.names[i]
                    for seed in range(REQUESTS)
                    for i in reservoir.draw(N, np.random.default_rng(seed))
                ]
                fake = [c.name for c in model.generate(len(held), np.random.default_rng(1))]
            detector = Detector("linear", grouped=True).fit(held, fake)
            listed = set(names)
            novelty = sum(s not in listed for s in shown) / len(shown)
            close = float(NearCopies(names).mask(shown).mean())
            print(
                f"{source:<11} {size:5}  {trained.model_name:<5}  {weight:6.2f}  {trained.reservoir_names:9,}  "
                f"{len(set(shown)) / len(shown):8.1%}  {novelty:7.1%}  {close:11.1%}  "
                f"{detector.called_real(shown):18.2f}  {detector.heldout_called_real:13.2f}"
            )


if __name__ == "__main__":
    main()
