"""One request pipeline behind every surface: a typed request in, a typed reply out.

Slack, the API and the command line all answer through ``answer``, so the same request gets the same
defaults, the same bandit and the same ranking wherever it is asked. Dependencies come in as
arguments: the loaded models, the bandit's vote counts (None where there is no stack to ask), the
settings. Bad input a user can fix comes back as a ``UserError`` reply, never as an exception.
"""

from __future__ import annotations

import time

import numpy as np

from jobs.contracts import (
    CandidateOut,
    CompleteRequest,
    DetectReply,
    DetectRequest,
    GenerateRequest,
    NamesReply,
    UserError,
)
from models.bandit import choose_model, competing
from models.ranking import candidate_rows, choose_shown, pool_scores
from models.registry import ModelRegistry
from models.sounds_like import sounds_like
from store.arms import ArmCounts
from store.votes import Impression
from tnaas.errors import ModelUnavailable, TNaaSError
from tnaas.settings import Settings


def answer(
    request: GenerateRequest | CompleteRequest | DetectRequest,
    models: ModelRegistry,
    arms: ArmCounts | None,
    settings: Settings,
) -> NamesReply | DetectReply | UserError:
    try:
        if isinstance(request, GenerateRequest):
            return generate(request, models, arms, settings)
        if isinstance(request, CompleteRequest):
            return complete(request, models, settings)
        return detect(request, models)
    except TNaaSError as err:
        return UserError(error=str(err))


def available(models: ModelRegistry, corpus: str, model: str) -> str:
    """``model`` if it is trained for ``corpus`` here; else an error a user can act on (the models that
    are), never the operator's path and "run tnaas train"."""
    if not models.is_trained(corpus, model):
        raise ModelUnavailable(model, corpus, models.trained_names(corpus))
    return model


def generate(request: GenerateRequest, models: ModelRegistry, arms: ArmCounts | None, settings: Settings) -> NamesReply:
    """Sample a pool (settings.rerank_pool), score it with the reranker or the judge, show the best n."""
    rng = np.random.default_rng(request.seed)
    arm_models = competing(models.trained_models(request.corpus))
    counts = arms.counts("model", request.corpus) if arms is not None else None
    model_name, chosen_by = choose_model(request.model, arm_models, counts, rng, settings.default_model)
    model, info = models.get(request.corpus, available(models, request.corpus, model_name))
    pool = max(request.n, settings.rerank_pool) if request.rerank else request.n
    found = model.generate(pool, rng, include_known=request.include_known)
    rows = candidate_rows(
        found,
        request.corpus,
        model_name,
        models.estimator("judge"),
        scorers={m: models.model(request.corpus, m) for m in arm_models},
    )
    reply = NamesReply(
        corpus=request.corpus, model=model_name, model_version=info.version, model_chosen_by=chosen_by, candidates=[]
    )
    if not request.rerank:
        reply.candidates = [CandidateOut.model_validate(row) for row in rows]
        return reply
    reranker = models.optional_estimator("reranker")
    scores = pool_scores(rows, reranker)
    reply.ranked_by = f"reranker {models.estimator_info('reranker').version}" if reranker is not None else "judge"
    reply.candidates = [
        CandidateOut.model_validate(rows[i] | {"score": round(float(scores[i]), 4), "explore": explored})
        for i, explored in choose_shown(scores, request.n, settings.explore, rng)
    ]
    return reply


def complete(request: CompleteRequest, models: ModelRegistry, settings: Settings) -> NamesReply:
    """Completions keep likelihood order: the pattern already says what the user wants."""
    arm_models = competing(models.trained_models(request.corpus))
    model_name, chosen_by = choose_model(
        request.model, arm_models, None, np.random.default_rng(request.seed), settings.default_model
    )
    model, info = models.get(request.corpus, available(models, request.corpus, model_name))
    found = model.complete(request.pattern, request.n, np.random.default_rng(request.seed))
    rows = candidate_rows(
        found,
        request.corpus,
        model_name,
        models.estimator("judge"),
        pattern=request.pattern,
        scorers={m: models.model(request.corpus, m) for m in arm_models},
    )
    return NamesReply(
        corpus=request.corpus,
        model=model_name,
        model_version=info.version,
        model_chosen_by=chosen_by,
        pattern=request.pattern,
        candidates=[CandidateOut.model_validate(row) for row in rows],
    )


def detect(request: DetectRequest, models: ModelRegistry) -> DetectReply:
    return DetectReply(answer=sounds_like(request.text, models.estimator("judge"), models.estimator("language")))


def impressions(
    reply: NamesReply,
    channel: str,
    ts: str,
    requested_n: int,
    user: str | None,
    surface: str,
    team: str | None = None,
) -> list[Impression]:
    """One impression per shown candidate, numbered from 1: the rows of the reranking dataset."""
    shown_at = time.time()
    return [
        Impression(
            channel=channel,
            ts=ts,
            index=i,
            name=c.name,
            corpus=reply.corpus,
            model=reply.model,
            model_version=reply.model_version,
            pattern=reply.pattern,
            log_prob=c.log_prob,
            believability=c.believability,
            judge=c.judge,
            nll=c.nll,
            known=c.known,
            explore=c.explore,
            requested_n=requested_n,
            requested_by=user,
            surface=surface,
            team=team,
            shown_at=shown_at,
        )
        for i, c in enumerate(reply.candidates, 1)
    ]
