"""Answers: new names, completions, what a text sounds like; and polling an answer still queued."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from bot.api.deps import AddressDep, RedisDep, SettingsDep
from bot.api.errors import NotFound
from bot.api.schemas import Answer, CheckIn, CompleteIn, DetectIn, GenerateIn, LikeIn
from jobs.contracts import (
    CheckReply,
    CheckRequest,
    CompleteRequest,
    DetectReply,
    DetectRequest,
    GenerateRequest,
    LikeRequest,
    TooLate,
    UserError,
    checked_corpus,
    checked_like_name,
    checked_model,
    checked_n,
    checked_names,
    checked_pattern,
    checked_text,
    reply_from,
)
from jobs.queueing import JobFailed, enqueue_web, wait_for, waited_too_long
from store.rate_limit import RateLimits
from tnaas.errors import Busy, TNaaSError
from tnaas.settings import Settings

router = APIRouter(tags=["answers"])
ANSWER_ID = re.compile(r"^[0-9a-f-]{8,64}$")
WEB_TEAM = "web"  # the web surface shares one "workspace" budget, like a Slack team
QUEUED = {202: {"model": Answer}}
IdempotencyKey = Annotated[
    str | None,
    Header(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="retry a request under the same key (e.g. after a dropped connection): you get the answer "
        "of its first try, never a second job",
    ),
]


# -- pure: body -> the typed job request, job result -> the answer ----------------------------------
def generate_request(body: GenerateIn, settings: Settings) -> GenerateRequest:
    return GenerateRequest(
        corpus=checked_corpus(body.corpus),
        model=checked_model(body.model),
        n=checked_n(body.n or settings.default_n, settings),
        seed=body.seed,
        free=body.free,
    )


def like_request(body: LikeIn, settings: Settings) -> LikeRequest:
    corpus = checked_corpus(body.corpus) if body.corpus and body.corpus.strip() else settings.default_corpus
    return LikeRequest(
        name=checked_like_name(body.name),
        corpus=corpus,
        model=checked_model(body.model),
        n=checked_n(body.n or settings.default_n, settings),
        seed=body.seed,
        free=body.free,
    )


def check_request(body: CheckIn) -> CheckRequest:
    return CheckRequest(names=checked_names(body.names))


def complete_request(body: CompleteIn, settings: Settings) -> CompleteRequest:
    corpus = checked_corpus(body.corpus) if body.corpus and body.corpus.strip() else settings.default_corpus
    return CompleteRequest(
        pattern=checked_pattern(body.pattern),
        corpus=corpus,
        model=checked_model(body.model),
        n=checked_n(body.n or settings.default_n, settings),
        seed=body.seed,
    )


def detect_request(body: DetectIn) -> DetectRequest:
    return DetectRequest(text=checked_text(body.text))


def answer_from(job_id: str, result: dict | None) -> Answer:
    """The job's result as an Answer; a user error the worker found becomes a 400."""
    if result is None:
        return Answer(status="queued", answer_id=job_id, poll=f"/api/v1/answers/{job_id}")
    reply = reply_from(result)
    if isinstance(reply, UserError):
        raise TNaaSError(reply.error)
    if isinstance(reply, TooLate):
        raise Busy()
    if isinstance(reply, DetectReply):
        return Answer(status="done", answer_id=job_id, sounds_like=reply.answer)
    if isinstance(reply, CheckReply):
        return Answer(status="done", answer_id=job_id, check=reply)
    return Answer(status="done", answer_id=job_id, names=reply)


def respond(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if answer.status == "done" else 202)


def ask(request, client: str | None, address: str, redis, settings: Settings, key: str | None) -> Answer:
    RateLimits(redis).check(WEB_TEAM, address, settings.user_rate, settings.team_rate)
    job = enqueue_web(redis, request, client or "anonymous", settings, key=key)
    if job.get_status(refresh=False) == JobStatus.FINISHED:  # a retry whose first try was answered
        return answer_from(job.id, job.return_value())
    result = wait_for(job, settings.api_wait)
    if result is None and waited_too_long(job, settings):  # a retry of a request that has waited too long
        raise Busy()
    return answer_from(job.id, result)


# -- routes -----------------------------------------------------------------------------------------
@router.post("/generate", response_model=Answer, responses=QUEUED)
def generate(
    body: GenerateIn,
    address: AddressDep,
    redis: RedisDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """New names in the style of a corpus, best first (judge + reranker), some picked for exploration."""
    return respond(ask(generate_request(body, settings), body.client, address, redis, settings, idempotency_key))


@router.post("/complete", response_model=Answer, responses=QUEUED)
def complete(
    body: CompleteIn,
    address: AddressDep,
    redis: RedisDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Fillings of a pattern such as `mo***` or `*u*a`, most likely first."""
    return respond(ask(complete_request(body, settings), body.client, address, redis, settings, idempotency_key))


@router.post("/like", response_model=Answer, responses=QUEUED)
def like(
    body: LikeIn, address: AddressDep, redis: RedisDep, settings: SettingsDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Believable names one to three edits from a given one, ranked as generation ranks."""
    return respond(ask(like_request(body, settings), body.client, address, redis, settings, idempotency_key))


@router.post("/check", response_model=Answer, responses=QUEUED)
def check(
    body: CheckIn, address: AddressDep, redis: RedisDep, settings: SettingsDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Is each name free on PyPI and npm: by the registries' rules, their snapshot and a live look-up."""
    return respond(ask(check_request(body), body.client, address, redis, settings, idempotency_key))


@router.post("/detect", response_model=Answer, responses=QUEUED)
def detect(
    body: DetectIn, address: AddressDep, redis: RedisDep, settings: SettingsDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """What a name or a text sounds like: corpora, and the language for text."""
    return respond(ask(detect_request(body), body.client, address, redis, settings, idempotency_key))


@router.get("/answers/{answer_id}", response_model=Answer, responses=QUEUED)
def answer(answer_id: str, redis: RedisDep, settings: SettingsDep) -> JSONResponse:
    """An answer that was still queued when its request returned."""
    if not ANSWER_ID.match(answer_id):
        raise NotFound("No such answer.")
    try:
        job = Job.fetch(answer_id, connection=redis)
    except NoSuchJobError:
        raise NotFound("No such answer (answers are kept for a while, then forgotten).") from None
    status = job.get_status(refresh=True)
    if status == JobStatus.FINISHED:
        return respond(answer_from(job.id, job.return_value()))
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        raise JobFailed(job.id, "")
    if waited_too_long(job, settings):
        raise Busy()
    return respond(answer_from(job.id, None))
