"""Job functions: plain dicts in and out (RQ serialises them), pydantic at both ends of each."""

from __future__ import annotations

import functools

import numpy as np
from redis import Redis
from rq import get_current_job

from bot.votes import VoteStore
from jobs import model_cache
from jobs.contracts import (
    CandidateOut,
    CompleteRequest,
    DetectReply,
    DetectRequest,
    GenerateRequest,
    NamesReply,
    UserError,
)
from models.bandit import thompson_choice
from models.catalog import default_models
from models.ranking import candidate_rows, choose_shown, pool_scores
from models.sounds_like import sounds_like
from tnaas.errors import TNaaSError
from tnaas.settings import get_settings


def _job_connection() -> Redis | None:
    job = get_current_job()
    return job.connection if job else None


def bandit_models(corpus: str) -> list[str]:
    """The models that compete for a corpus: trained, and fast enough to sample a pool (not pomegranate)."""
    registry = model_cache.registry()
    return [m for m in default_models() if not m.startswith("bayes") and registry.path(corpus, m).exists()]


def _scorers(corpus: str, models: list[str]) -> dict:
    """The competing models themselves, to score each candidate under all of them."""
    registry = model_cache.registry()
    return {m: registry.model(corpus, m) for m in models}


def choose_model(request, rng: np.random.Generator, arms: list[str]) -> tuple[str, str]:
    """(model, why): the one asked for; else Thompson sampling over the ``arms``' up-vote posteriors."""
    if request.model:
        return request.model.lower(), "request"
    connection = _job_connection()
    if not isinstance(request, GenerateRequest) or connection is None or len(arms) < 2:
        return get_settings().default_model, "default"
    counts = VoteStore(connection).arm_counts("model", request.corpus)
    return thompson_choice({m: counts.get(m, (0, 0)) for m in arms}, rng), "bandit"


def user_errors(task):
    """Bad input a user can fix (TNaaSError) comes back as a UserError result, never as a failed job."""
    @functools.wraps(task)
    def run(payload: dict) -> dict:
        try:
            return task(payload)
        except TNaaSError as err:
            return UserError(error=str(err)).model_dump()
    return run


def _names_reply(request, model_name: str, chosen_by: str, rows: list[dict], scores=None, shown=None,
                 ranked_by: str = "likelihood") -> dict:
    _, info = model_cache.registry().get(request.corpus, model_name)
    shown = shown if shown is not None else [(i, False) for i in range(len(rows))]
    candidates = [
        CandidateOut(name=rows[i]["name"], log_prob=rows[i]["log_prob"], known=rows[i]["known"],
                     believability=rows[i]["believability"], judge=rows[i]["judge"], nll=rows[i]["nll"],
                     score=None if scores is None else round(float(scores[i]), 4), explore=explored)
        for i, explored in shown
    ]
    return NamesReply(corpus=request.corpus, model=model_name, model_version=info.version, model_chosen_by=chosen_by,
                      ranked_by=ranked_by, pattern=getattr(request, "pattern", None), candidates=candidates).model_dump()


@user_errors
def generate(payload: dict) -> dict:
    """Sample a pool (settings.rerank_pool), score it with the reranker or the judge, show the best n."""
    request = GenerateRequest.model_validate(payload)
    settings = get_settings()
    registry = model_cache.registry()
    rng = np.random.default_rng(request.seed)
    arms = bandit_models(request.corpus)
    model_name, chosen_by = choose_model(request, rng, arms)
    model = registry.model(request.corpus, model_name)
    pool = max(request.n, settings.rerank_pool) if request.rerank else request.n
    found = model.generate(pool, rng, include_known=request.include_known)
    rows = candidate_rows(found, request.corpus, model_name, registry.estimator("judge"), scorers=_scorers(request.corpus, arms))
    if not request.rerank:
        return _names_reply(request, model_name, chosen_by, rows)
    reranker = registry.optional_estimator("reranker")
    scores = pool_scores(rows, reranker)
    shown = choose_shown(scores, request.n, settings.explore, rng)
    ranked_by = f"reranker {registry.estimator_info('reranker').version}" if reranker is not None else "judge"
    return _names_reply(request, model_name, chosen_by, rows, scores, shown, ranked_by)


@user_errors
def complete(payload: dict) -> dict:
    """Completions keep likelihood order: the pattern already says what the user wants."""
    request = CompleteRequest.model_validate(payload)
    registry = model_cache.registry()
    arms = bandit_models(request.corpus)
    model_name, chosen_by = choose_model(request, np.random.default_rng(request.seed), arms)
    model = registry.model(request.corpus, model_name)
    found = model.complete(request.pattern, request.n, np.random.default_rng(request.seed))
    rows = candidate_rows(found, request.corpus, model_name, registry.estimator("judge"), pattern=request.pattern,
                          scorers=_scorers(request.corpus, arms))
    return _names_reply(request, model_name, chosen_by, rows)


@user_errors
def detect(payload: dict) -> dict:
    request = DetectRequest.model_validate(payload)
    registry = model_cache.registry()
    return DetectReply(answer=sounds_like(request.text, registry.estimator("judge"), registry.estimator("language"))).model_dump()


TASKS = {"generate": generate, "complete": complete, "detect": detect}
