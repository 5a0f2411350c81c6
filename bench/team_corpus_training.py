"""How long a worker takes to train a team's own corpus, and how large its artifacts are: 1,000 and
50,000 names (targets: 5 s and 30 s on one core), drawn from lists the project does not generate from
(pypi-words, the judge's one-word PyPI names). Wall time next to CPU time (this process'): on a shared
machine the wall time also counts other people's work.

Run: ``.venv/bin/python -m bench.team_corpus_training`` (about a minute).
"""

from __future__ import annotations

import random
import time

from core.settings import Settings
from corpora import load_corpus
from corpora.team import check_names
from models.team_corpus import train_team_corpus
from models.team_prior import team_prior

SIZES = (1_000, 50_000)
TARGETS = {1_000: 5.0, 50_000: 30.0}


def main() -> None:
    words = load_corpus("pypi-words")
    start = time.perf_counter()
    prior = team_prior(Settings().data_dir)  # fitted once per machine, then loaded once per worker
    print(f"prior {prior.version} ready in {time.perf_counter() - start:.2f} s")
    print("names    model  check s  train s  train CPU s  target s  held-out nll  reservoir  artifacts MB")
    for size in SIZES:
        sample = random.Random(size).sample(words, size)
        start = time.perf_counter()
        checked = check_names(sample)
        checked_in = time.perf_counter() - start
        cpu = time.process_time()
        trained = train_team_corpus("bench", checked.names, prior=prior)
        cpu = time.process_time() - cpu
        megabytes = (len(trained.model) + len(trained.reservoir)) / 1_048_576
        print(
            f"{size:<8} {trained.model_name:<6} {checked_in:7.2f}  {trained.seconds:7.2f}  {cpu:11.2f}  {TARGETS[size]:8.0f}  "
            f"{trained.heldout_nll:12.4f}  {trained.reservoir_names:9,}  {megabytes:12.1f}"
        )


if __name__ == "__main__":
    main()
