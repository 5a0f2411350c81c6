"""What a team corpus shows, on lists the project does not generate from and never tuned on (one-word
PyPI names, Debian's project names) subsampled to 30, 100, 300 and 1,000 names: over 100 requests of
10 names each (seeds 0-99), the share of distinct names, novelty (not in the list) and near-copies
(one edit from a listed name), against the targets 95%, 100% and at most 5%.

Run: ``.venv/bin/python -m bench.team_corpus_quality`` (about a minute).
"""

from __future__ import annotations

import random

from corpora import load_corpus
from models.believability import NearCopies
from models.team_corpus import train_team_corpus

SOURCES = ("pypi-words", "debian")
SIZES = (30, 100, 300, 1_000)
REQUESTS, N = 100, 10


def main() -> None:
    print("source      names  model  reservoir  distinct  novelty  near-copies  held-out nll")
    for source in SOURCES:
        words = load_corpus(source)
        for size in SIZES:
            names = random.Random(size).sample(words, size)
            trained = train_team_corpus("bench", names)
            shown = _shown(trained)
            listed, near = set(names), NearCopies(names)
            novelty = sum(s not in listed for s in shown) / len(shown)
            close = sum(near.mask(shown)) / len(shown)
            print(
                f"{source:<11} {size:5}  {trained.model_name:<5}  {trained.reservoir_names:9,}  "
                f"{len(set(shown)) / len(shown):8.1%}  {novelty:7.1%}  {close:11.1%}  {trained.heldout_nll or float('nan'):12.3f}"
            )


def _shown(trained) -> list[str]:
    """The names 100 requests of N are shown: N drawn from the reservoir per request, as the pipeline does."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from models.team_corpus import load_team_corpus

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "model.npz").write_bytes(trained.model)
        (Path(tmp) / "reservoir.npz").write_bytes(trained.reservoir)
        _, _, reservoir = load_team_corpus(Path(tmp))
        return [reservoir.names[i] for seed in range(REQUESTS) for i in reservoir.draw(N, np.random.default_rng(seed))]


if __name__ == "__main__":
    main()
