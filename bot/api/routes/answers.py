"""Answers: new names, completions, what a text sounds like; and polling an answer still queued."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from starlette.concurrency import run_in_threadpool

from bot.api.batching import raise_if_given_up
from bot.api.deps import Asker, AskerDep, AsyncRedisDep, RedisDep, SettingsDep
from bot.api.errors import NotFound, errors
from bot.api.schemas import Answer, CheckIn, CompleteIn, DetectIn, GenerateIn, LikeIn
from core.errors import Busy, TNaaSError
from core.settings import Settings
from corpora import corpus_names
from jobs.contracts import (
    OWN_CORPORA,
    CheckReply,
    CheckRequest,
    CompleteRequest,
    DetectReply,
    DetectRequest,
    GenerateRequest,
    LikeRequest,
    TooLate,
    UserError,
    WebItem,
    first_problem,
    reply_from,
)
from jobs.queueing import JobFailed, idempotent_job_id, waited_too_long
from store.answers import Answers
from store.claims import Claims
from store.rate_limit import RateLimits, web_counters
from store.team_corpora import TeamCorpora, owner_key

router = APIRouter(tags=["answers"])
ANSWER_ID = re.compile(r"^[0-9a-f-]{8,64}$")
WEB_CLIENT = "client:"  # before a caller's client name: no Slack id has a colon
TWIN_ENQUEUES_WITHIN = 1.0  # seconds: a claimed answer id whose job is still missing then was never enqueued
RETRY_LOOKS_EVERY = 0.05  # seconds between looks at the answer of a retried request (retries only)
QUEUED = {202: {"model": Answer, "description": "Not answered within TNAAS_API_WAIT seconds: GET its `poll` URL."}}
ASKED = QUEUED | errors(400, 413, 429, 500, 503)  # what a request for an answer may get besides its 200
POLLED = QUEUED | errors(400, 404, 500, 503)  # 400: the worker found the request wrong
IdempotencyKey = Annotated[
    str | None,
    Header(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="retry a request under the same key (e.g. after a dropped connection): you get the answer "
        "of its first try, never a second job",
    ),
]


# -- pure: body -> the typed job request, job result -> the answer ----------------------------------
def job_request(kind: type[BaseModel], own: Own = None, **fields):
    """The request, which checks itself; its first problem (in the order below) is a 400 in its words.
    ``own``: the team corpora the caller may name ({slug: owner}); naming one sets the request's owner."""
    try:
        request = kind.model_validate(fields, context={OWN_CORPORA: list(own or {})})
    except ValidationError as err:
        raise first_problem(err, BODY_ORDER) from None
    if own and getattr(request, "corpus", None) in own:
        request.owner = own[request.corpus]
    return request


Own = dict[str, str] | None  # the caller's team corpora, {slug: owner}: None when the corpus is a built-in one


BODY_ORDER = ("corpus", "pattern", "name", "model", "n")  # which problem of a body is told first


def generate_request(body: GenerateIn, settings: Settings, own: Own = None) -> GenerateRequest:
    return job_request(
        GenerateRequest,
        own,
        corpus=body.corpus,
        model=body.model,
        n=body.n or settings.default_n,
        seed=body.seed,
        free=body.free,
    )


def like_request(body: LikeIn, settings: Settings, own: Own = None) -> LikeRequest:
    return job_request(
        LikeRequest,
        own,
        name=body.name,
        corpus=corpus_or_default(body.corpus, settings),
        model=body.model,
        n=body.n or settings.default_n,
        seed=body.seed,
        free=body.free,
    )


def check_request(body: CheckIn) -> CheckRequest:
    return job_request(CheckRequest, names=body.names)


def complete_request(body: CompleteIn, settings: Settings, own: Own = None) -> CompleteRequest:
    return job_request(
        CompleteRequest,
        own,
        pattern=body.pattern,
        corpus=corpus_or_default(body.corpus, settings),
        model=body.model,
        n=body.n or settings.default_n,
        seed=body.seed,
    )


def detect_request(body: DetectIn, own: Own = None) -> DetectRequest:
    return job_request(DetectRequest, text=body.text, team_corpora=own or {})


def corpus_or_default(corpus: str | None, settings: Settings) -> str:
    return corpus if corpus and corpus.strip() else settings.default_corpus


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


def respond(answer: Answer) -> Response:
    return Response(
        orjson.dumps(answer.model_dump(mode="json")),
        status_code=200 if answer.status == "done" else 202,
        media_type="application/json",
    )


REPLY_FIELD = {"names": "names", "check": "check", "detect": "sounds_like"}


def respond_with(answer_id: str, result: dict | None) -> Response:
    """``respond(answer_from(...))`` without validating again what a worker made from typed replies:
    the reply's JSON goes out as the worker stored it (a user error or "busy" raises as there)."""
    if result is None or result.get("kind") not in REPLY_FIELD:
        return respond(answer_from(answer_id, result))
    body = {"status": "done", "answer_id": answer_id, "poll": None, "names": None, "check": None, "sounds_like": None}
    body[REPLY_FIELD[result["kind"]]] = result["answer"] if result["kind"] == "detect" else result
    return Response(orjson.dumps(body), media_type="application/json")


async def ask(request, client: str | None, asker: Asker, key: str | None) -> Response:
    """Rate limit (per person: the page's voter, the API token's holder, else the address; the address
    as a flood guard, no budget of the whole site: one flooder would deny everyone), then the worker's answer within TNAAS_API_WAIT (batched with concurrent requests
    of its kind, see ``bot.api.batching``), else the answer id to poll. Under an idempotency key only
    the first request is sent; a retry gets the first one's answer (or its id while it is queued)."""
    aredis, batcher, settings = asker.aredis, asker.batcher, asker.settings
    await RateLimits(aredis).check_async(
        web_counters("user", asker.caller, asker.address, settings.user_rate, settings.address_people)
    )
    answer_id = idempotent_job_id(key, request, asker.caller) if key is not None else uuid.uuid4().hex
    item = WebItem(request=request, client=requester(client), answer_id=answer_id, caller=f"web:{asker.address}")
    if key is None or await Claims(aredis).claim_async(answer_id, settings.result_ttl):
        return respond_with(answer_id, await batcher.ask(item))
    found = await answer_of_retry(answer_id, Answers(aredis), batcher, settings)
    if found is MISSING:  # claimed, but its first request died before its job was enqueued
        return respond_with(answer_id, await batcher.ask(item))
    return respond_with(answer_id, found)


def requester(client: str | None) -> str:
    """Who asked, as impressions record it (``requested_by``): a caller-chosen client name in its own
    namespace, so that no name a caller picks is a Slack user's id (forgetting that user, ``tnaas votes
    forget --user U…``, would delete the caller's records too)."""
    return f"{WEB_CLIENT}{client}" if client else "anonymous"


MISSING = object()


async def answer_of_retry(answer_id: str, answers: Answers, batcher, settings: Settings):
    """The reply a retried request's first try got (None while it is queued; Busy if it waited too
    long), or MISSING if its job never showed up. Looks every RETRY_LOOKS_EVERY s: retries are rare,
    and the first try's own waiter is the one its inbox answers."""
    start = time.monotonic()
    while True:
        if (stored := await answers.get(answer_id)) is not None:
            return orjson.loads(stored)
        job_id = await answers.job_of(answer_id)
        waited = time.monotonic() - start
        if job_id is None and waited > TWIN_ENQUEUES_WITHIN:
            return MISSING
        if job_id is not None and (waited > settings.api_wait or waited == 0):
            job_id = job_id.decode()
            await run_in_threadpool(raise_if_given_up, batcher.connection, job_id)
            if await run_in_threadpool(_queued_too_long, batcher.connection, job_id, settings):
                raise Busy()
            if waited > settings.api_wait:
                return None
        await asyncio.sleep(RETRY_LOOKS_EVERY)


def _queued_too_long(connection, job_id: str, settings: Settings) -> bool:
    try:
        return waited_too_long(Job.fetch(job_id, connection=connection), settings)
    except NoSuchJobError:
        return False


async def own_corpora(corpus: str | None, asker: Asker) -> Own:
    """The team corpora the caller may name, looked up only when the body names no built-in corpus (the
    common request costs nothing more): its own and the operator's, {slug: owner}."""
    name = (corpus or "").strip().lower()
    if not name or name in corpus_names():
        return None
    return await visible_corpora(asker)


async def visible_corpora(asker: Asker) -> dict[str, str]:
    """Every team corpus the caller may use, {slug: owner}: its own and the operator's."""
    visible = await run_in_threadpool(TeamCorpora(asker.batcher.connection).visible, owner_key(asker.caller))
    return {slug: by for slug, (by, _) in visible.items()}


# -- routes -----------------------------------------------------------------------------------------
@router.post("/generate", response_model=Answer, responses=ASKED)
async def generate(body: GenerateIn, asker: AskerDep, idempotency_key: IdempotencyKey = None) -> Response:
    """New names in the style of a corpus (a built-in one, or one of your own), best first (judge +
    reranker), some picked for exploration."""
    own = await own_corpora(body.corpus, asker)
    return await ask(generate_request(body, asker.settings, own), body.client, asker, idempotency_key)


@router.post("/complete", response_model=Answer, responses=ASKED)
async def complete(body: CompleteIn, asker: AskerDep, idempotency_key: IdempotencyKey = None) -> Response:
    """Fillings of a pattern such as `mo***` or `*u*a`, most likely first."""
    own = await own_corpora(body.corpus, asker)
    return await ask(complete_request(body, asker.settings, own), body.client, asker, idempotency_key)


@router.post("/like", response_model=Answer, responses=ASKED)
async def like(body: LikeIn, asker: AskerDep, idempotency_key: IdempotencyKey = None) -> Response:
    """Believable names one to three edits from a given one, ranked as generation ranks."""
    own = await own_corpora(body.corpus, asker)
    return await ask(like_request(body, asker.settings, own), body.client, asker, idempotency_key)


@router.post("/check", response_model=Answer, responses=ASKED)
async def check(body: CheckIn, asker: AskerDep, idempotency_key: IdempotencyKey = None) -> Response:
    """Is each name free on PyPI and npm: by the registries' rules, their snapshot and a live look-up."""
    return await ask(check_request(body), body.client, asker, idempotency_key)


@router.post("/detect", response_model=Answer, responses=ASKED)
async def detect(body: DetectIn, asker: AskerDep, idempotency_key: IdempotencyKey = None) -> Response:
    """What a name or a text sounds like: corpora (your own too, for `real_in`), and the language for text."""
    return await ask(detect_request(body, await visible_corpora(asker)), body.client, asker, idempotency_key)


@router.get("/answers/{answer_id}", response_model=Answer, responses=POLLED)
async def answer(answer_id: str, redis: RedisDep, aredis: AsyncRedisDep, settings: SettingsDep) -> Response:
    """An answer that was still queued when its request returned."""
    if not ANSWER_ID.match(answer_id):
        raise NotFound("No such answer.")
    answers = Answers(aredis)
    if (stored := await answers.get(answer_id)) is not None:
        return respond_with(answer_id, orjson.loads(stored))
    job_id = await answers.job_of(answer_id)
    return await run_in_threadpool(_answer_of_job, redis, answer_id, job_id.decode() if job_id else answer_id, settings)


def _answer_of_job(redis, answer_id: str, job_id: str, settings: Settings) -> Response:
    """Not answered yet: what its job's state says (a job of one request, from before batching, by its own id)."""
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        raise NotFound("No such answer (answers are kept for a while, then forgotten).") from None
    status = job.get_status(refresh=True)
    if status == JobStatus.FINISHED and job_id == answer_id:
        return respond(answer_from(job.id, job.return_value()))
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        raise JobFailed(job.id, "")
    if waited_too_long(job, settings):
        raise Busy()
    return respond(answer_from(answer_id, None))
