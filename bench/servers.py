"""The one-process servers ``bench.api --table`` compares the stack with, each a FastAPI app on uvicorn.

``python -m bench.servers KIND PORT`` (bench/api.py ``--table`` starts them and stops them by pid):
- ``naive``: the original talk's handler: a markovify chain trained on the corpus per request;
- ``markovify``: a markovify chain trained once at start, walked per request;
- ``kn5-judge``: our kn5 model sampling a pool of 100 per request, ranked by the judge's P(corpus);
- ``pipeline``: today's ``jobs.pipeline.answer`` (reservoir draw) called directly, no Redis, no workers.
Each answers ``POST /api/v1/generate {"corpus": ..., "n": ...}`` with the names.
"""

from __future__ import annotations

import sys

import markovify
import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from core.settings import get_settings
from corpora import load_corpus
from jobs.contracts import GenerateRequest
from jobs.pipeline import answer
from models.ranking import candidate_rows
from models.registry import ModelRegistry

STATE_SIZE = 3
POOL = 100


class Body(BaseModel):
    corpus: str = "pokemon"
    n: int = 5


def walk(chain: markovify.Chain, n: int, known: set[str]) -> list[str]:
    """n new names from ``chain`` (bounded: at most 50 walks per name)."""
    out: list[str] = []
    for _ in range(50 * n):
        name = "".join(chain.walk())
        if name and name not in known and name not in out:
            out.append(name)
            if len(out) == n:
                break
    return out


def app_for(kind: str) -> FastAPI:
    app = FastAPI()
    corpora: dict[str, list[str]] = {}

    def names(corpus: str) -> list[str]:
        if corpus not in corpora:
            corpora[corpus] = load_corpus(corpus)
        return corpora[corpus]

    if kind == "naive":

        @app.post("/api/v1/generate")
        def naive(body: Body) -> dict:
            words = names(body.corpus)
            return {"names": walk(markovify.Chain([list(w) for w in words], STATE_SIZE), body.n, set(words))}

    elif kind == "markovify":
        chains = {"pokemon": markovify.Chain([list(w) for w in names("pokemon")], STATE_SIZE)}

        @app.post("/api/v1/generate")
        def pretrained(body: Body) -> dict:
            return {"names": walk(chains[body.corpus], body.n, set(names(body.corpus)))}

    else:
        settings = get_settings()
        models = ModelRegistry(settings.artifacts_dir)
        models.preload()
        rng = np.random.default_rng()
        if kind == "kn5-judge":

            @app.post("/api/v1/generate")
            def kn5_judge(body: Body) -> dict:
                model, _ = models.get(body.corpus, "kn5")
                rows = candidate_rows(
                    model.generate(POOL, rng), body.corpus, "kn5", models.estimator("judge"), scorers={"kn5": model}
                )
                best = np.argsort([-r["believability"] for r in rows])[: body.n]
                return {"names": [rows[i]["name"] for i in best]}

        else:

            @app.post("/api/v1/generate")
            def pipeline(body: Body) -> dict:
                reply = answer(GenerateRequest(corpus=body.corpus, n=body.n, model="kn5"), models, None, settings)
                return {"names": [c.name for c in reply.candidates]}

    return app


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(app_for(kind), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
