"""Which model suits a team's list of a given size: held-out NLL per character (length prior included)
of each Kneser-Ney order, trained on random subsamples of 30, 100, 300, 1,000 and 10,000 names of the
corpora's sources and scored on 500 other names of the same source (those whose letters the subsample has; 3 draws each, one at 10,000). The lowest mean is
the order ``models.team_corpus.MODEL_BY_SIZE`` picks for lists of about that size.

Run: ``.venv/bin/python -m bench.team_corpus_models`` (about a minute on one core).
"""

from __future__ import annotations

import random
import statistics

from corpora import load_corpus
from models.catalog import make_lm
from models.name_model import NameModel
from models.training import nll_per_char

SOURCES = ("pokemon", "superheroes", "swedish", "pypi", "npm", "debian")  # debian: never tuned on
SIZES = (30, 100, 300, 1000, 10_000)
MODELS = ("kn1", "kn2", "kn3", "kn4", "kn5")
HELD_OUT = 500
DRAWS = 3


def measure(sizes=SIZES, models=MODELS, sources=SOURCES, draws=DRAWS) -> dict[int, dict[str, float]]:
    """{size: {model: mean held-out nats per character over sources and draws}}."""
    out: dict[int, dict[str, list[float]]] = {}
    for source in sources:
        words = load_corpus(source)
        for size in sizes:
            if size + HELD_OUT > len(words):
                continue
            for draw in range(draws if size < 10_000 else 1):
                shuffled = random.Random(draw).sample(words, size + HELD_OUT)
                train, test = shuffled[:size], shuffled[size:]
                letters = set("".join(train))  # a letter no training name has is unscorable by any order alike
                test = [w for w in test if set(w) <= letters]
                for name in models:
                    model = NameModel(make_lm(name), source).fit(train)
                    out.setdefault(size, {}).setdefault(name, []).append(nll_per_char(model, test))
    return {size: {m: statistics.fmean(v) for m, v in per.items()} for size, per in out.items()}


def main() -> None:
    results = measure()
    print("held-out nats/char (lower is better), mean over sources and draws")
    print("size    " + "".join(f"{m:>8}" for m in MODELS) + "   best")
    for size, per in sorted(results.items()):
        best = min(per, key=per.get)
        print(f"{size:<8}" + "".join(f"{per[m]:8.3f}" for m in MODELS) + f"   {best}")


if __name__ == "__main__":
    main()
