"""A worker serving many team corpora: what it holds against its budget, and what loading costs.

Trains one 1,000-name list (one-word PyPI names), keeps its artifacts in a fresh embedded Redis under 50
corpus names (one owner each), then asks a worker's cache (``jobs.team_models.TeamModels``, the default
``TNAAS_TEAM_CORPUS_MEMORY_MB``) for 5 names from each in turn through the request pipeline, twice round.
Each corpus is loaded and mapped on its own, as 50 different lists would be; they share one training
only to keep the benchmark short.

Run: ``.venv/bin/python -m bench.team_corpus_serving`` (about 20 s).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from redis import Redis

from core.settings import Settings
from corpora import load_corpus
from jobs.contracts import OWN_CORPORA, GenerateRequest
from jobs.pipeline import team_answer
from jobs.team_models import TeamModels
from models.team_corpus import train_team_corpus
from store.team_corpora import TeamCorpora
from tnaas.redis_server import EmbeddedRedis

CORPORA = 50
NAMES = 1_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    names = random.Random(0).sample(load_corpus("pypi-words"), NAMES)
    trained = train_team_corpus("bench", names)
    settings = Settings(_env_file=None)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        store = TeamCorpora(Redis.from_url(server.url))
        for i in range(CORPORA):
            store.begin(f"team{i}", "ours", names, f"job{i}", 60)
            store.publish(f"team{i}", "ours", trained.version, trained.model, trained.reservoir, {})
        team = TeamModels(store, settings, folder=Path(tmp) / "cache")
        before = rss_mb()
        first, again, peak = [], [], 0.0
        for times in (first, again):
            for i in range(CORPORA):
                request = GenerateRequest.model_validate(
                    {"corpus": "ours", "n": 5, "owner": f"team{i}"}, context={OWN_CORPORA: ["ours"]}
                )
                start = time.perf_counter()
                team_answer(request, team, settings, None)
                times.append(1000 * (time.perf_counter() - start))
                peak = max(peak, team.held / 1_048_576)
    size = (len(trained.model) + len(trained.reservoir)) / 1_048_576
    print(f"{CORPORA} corpora of {NAMES:,} names ({trained.model_name}, {size:.1f} MB of artifacts each)")
    print(
        f"budget {settings.team_corpus_memory_mb} MB; held at most {peak:.1f} MB, {len(team.loaded())} loaded at the end"
    )
    print(f"worker RSS {before:.0f} MB before, {rss_mb():.0f} MB after")
    print(
        f"answer with a load: median {statistics.median(first):.0f} ms; second round median {statistics.median(again):.0f} ms"
    )


if __name__ == "__main__":
    main()
