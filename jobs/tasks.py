"""Job functions: plain dicts in and out (RQ serialises them), pydantic at both ends of each."""

from __future__ import annotations

import numpy as np

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
from models.sounds_like import sounds_like
from tnaas.errors import TNaaSError
from tnaas.settings import get_settings


def _names_reply(request, found, pattern: str | None = None) -> dict:
    registry = model_cache.registry()
    model_name = request.model or get_settings().default_model
    _, info = registry.get(request.corpus, model_name)
    names = [c.name for c in found]
    believable = registry.estimator("judge").believability(names, request.corpus) if names else []
    candidates = [
        CandidateOut(name=c.name, log_prob=round(c.log_prob, 4), known=c.known, believability=round(float(b), 4))
        for c, b in zip(found, believable)
    ]
    return NamesReply(corpus=request.corpus, model=model_name, model_version=info.version, pattern=pattern,
                      candidates=candidates).model_dump()


def generate(payload: dict) -> dict:
    try:
        request = GenerateRequest.model_validate(payload)
        model = model_cache.registry().model(request.corpus, request.model or get_settings().default_model)
        found = model.generate(request.n, np.random.default_rng(request.seed), include_known=request.include_known)
        return _names_reply(request, found)
    except TNaaSError as err:
        return UserError(error=str(err)).model_dump()


def complete(payload: dict) -> dict:
    try:
        request = CompleteRequest.model_validate(payload)
        model = model_cache.registry().model(request.corpus, request.model or get_settings().default_model)
        found = model.complete(request.pattern, request.n, np.random.default_rng(request.seed))
        return _names_reply(request, found, pattern=request.pattern)
    except TNaaSError as err:
        return UserError(error=str(err)).model_dump()


def detect(payload: dict) -> dict:
    try:
        request = DetectRequest.model_validate(payload)
        registry = model_cache.registry()
        answer = sounds_like(request.text, registry.estimator("judge"), registry.estimator("language"))
        return DetectReply(answer=answer).model_dump()
    except TNaaSError as err:
        return UserError(error=str(err)).model_dump()


TASKS = {"generate": generate, "complete": complete, "detect": detect}
