"""The JSON API (``/api/v1``): the same requests, jobs, workers, limits and vote store as Slack.

A request is checked here (corpus, model, n, pattern, text length: the limits the Slack grammar
applies), counted against the shared rate limits, and enqueued; the API waits up to
``TNAAS_API_WAIT`` seconds for the answer and otherwise returns its id to poll. Errors are JSON
``{"error": "..."}``: 400 bad input, 401 missing token, 404 unknown answer, 429 rate-limited,
503 busy.
"""

from __future__ import annotations

import hmac
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from bot.grammar import MAX_TEXT, checked_corpus, checked_n, checked_pattern
from bot.rate_limit import WINDOW, RateLimited, check_rate
from bot.votes import VoteStore
from corpora import manifest
from jobs.contracts import CompleteRequest, DetectRequest, GenerateRequest, NamesReply
from jobs.queueing import Busy, JobFailed, enqueue_web, wait_for
from jobs.web_reply import WEB_CHANNEL
from models.bandit import Standing, standings
from models.catalog import default_models, describe, parse_model_name
from models.registry import ModelRegistry
from models.sounds_like import SoundsLike
from tnaas.errors import TNaaSError
from tnaas.settings import Settings

CLIENT_ID = r"^[A-Za-z0-9_-]{1,64}$"
ANSWER_ID = re.compile(r"^[0-9a-f-]{8,64}$")
WEB_TEAM = "web"  # the web surface shares one "workspace" budget, like a Slack team


class ApiError(BaseModel):
    error: str


class Unauthorized(Exception):
    pass


class NotFound(Exception):
    pass


# -- what callers send ------------------------------------------------------------------------------
class GenerateIn(BaseModel):
    corpus: str = Field(max_length=64, examples=["pokemon"])
    model: str | None = Field(None, max_length=32, description="default: the bandit picks the best-voted model")
    n: int = Field(5, ge=1, description="at most TNAAS_MAX_N")
    seed: int | None = None
    client: str | None = Field(None, pattern=CLIENT_ID, description="a stable id of the caller (the page sends one)")


class CompleteIn(BaseModel):
    pattern: str = Field(max_length=200, examples=["mo***"], description="each * is exactly one unknown character")
    corpus: str | None = Field(None, max_length=64, description="default: TNAAS_DEFAULT_CORPUS")
    model: str | None = Field(None, max_length=32)
    n: int = Field(5, ge=1)
    seed: int | None = None
    client: str | None = Field(None, pattern=CLIENT_ID)


class DetectIn(BaseModel):
    text: str = Field(max_length=MAX_TEXT, examples=["snorlax"])
    client: str | None = Field(None, pattern=CLIENT_ID)


class VoteIn(BaseModel):
    answer_id: str = Field(max_length=64)
    index: int = Field(ge=1, description="1-based position of the candidate in the answer")
    direction: Literal[1, -1] = 1
    added: bool = Field(True, description="false takes the vote back")
    voter: str = Field(pattern=CLIENT_ID)


# -- what callers get -------------------------------------------------------------------------------
class Answer(BaseModel):
    status: Literal["done", "queued"]
    answer_id: str
    poll: str | None = Field(None, description="while queued: GET this for the answer")
    names: NamesReply | None = None
    sounds_like: SoundsLike | None = None


class VoteOut(BaseModel):
    answer_id: str
    index: int
    up: int
    down: int


class CorpusOut(BaseModel):
    name: str
    names: int
    source: str
    license: str
    models: list[str]  # trained for this corpus


class ModelOut(BaseModel):
    name: str
    description: str


class ModelsOut(BaseModel):
    models: list[ModelOut]
    standings: list[Standing]


# -- pure checks: body -> the typed job request -----------------------------------------------------
def _model(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    parse_model_name(name)  # raises UnknownModel with the list
    return name.strip().lower()


def generate_request(body: GenerateIn, settings: Settings) -> GenerateRequest:
    return GenerateRequest(corpus=checked_corpus(body.corpus), model=_model(body.model), n=checked_n(body.n, settings),
                           seed=body.seed)


def complete_request(body: CompleteIn, settings: Settings) -> CompleteRequest:
    corpus = checked_corpus(body.corpus) if body.corpus and body.corpus.strip() else settings.default_corpus
    return CompleteRequest(pattern=checked_pattern(body.pattern), corpus=corpus, model=_model(body.model),
                           n=checked_n(body.n, settings), seed=body.seed)


def detect_request(body: DetectIn) -> DetectRequest:
    if not body.text.strip():
        raise TNaaSError("Give me a name or some text, e.g. snorlax or 'Det här är svenska'.")
    return DetectRequest(text=body.text)


def answer_from(job_id: str, result: dict | None) -> Answer:
    """The job's result as an Answer; a user error the worker found becomes a 400."""
    if result is None:
        return Answer(status="queued", answer_id=job_id, poll=f"/api/v1/answers/{job_id}")
    if "error" in result:
        raise TNaaSError(result["error"])
    if "answer" in result:
        return Answer(status="done", answer_id=job_id, sounds_like=result["answer"])
    return Answer(status="done", answer_id=job_id, names=result)


def validation_message(err: RequestValidationError) -> str:
    """The first problem, said plainly: 'n: Input should be greater than or equal to 1'."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    return f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")


# -- wiring -----------------------------------------------------------------------------------------
def install_error_handlers(app: FastAPI) -> None:
    def error(status: int, message: str, **headers) -> JSONResponse:
        return JSONResponse(ApiError(error=message).model_dump(), status_code=status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def bad_body(_, err: RequestValidationError):
        return error(400, validation_message(err))

    @app.exception_handler(TNaaSError)
    async def user_error(_, err: TNaaSError):
        return error(400, str(err))

    @app.exception_handler(RateLimited)
    async def rate_limited(_, err: RateLimited):
        return error(429, str(err), **{"Retry-After": str(WINDOW)})

    @app.exception_handler(Busy)
    async def busy(_, err: Busy):
        return error(503, str(err), **{"Retry-After": "5"})

    @app.exception_handler(Unauthorized)
    async def unauthorized(_, err: Unauthorized):
        return error(401, "This API needs a token: send `Authorization: Bearer <TNAAS_API_TOKEN>`.",
                     **{"WWW-Authenticate": "Bearer"})

    @app.exception_handler(NotFound)
    async def not_found(_, err: NotFound):
        return error(404, str(err))

    @app.exception_handler(JobFailed)
    async def failed(_, err: JobFailed):
        return error(500, "Something went wrong on our side; try again.")


ERRORS = {status: {"model": ApiError} for status in (400, 401, 404, 429, 503)}


def create_api(connection: Redis, settings: Settings) -> APIRouter:
    def require_token(request: Request) -> None:
        if not settings.api_token:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), settings.api_token.encode()):
            raise Unauthorized()

    router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], responses=ERRORS)
    votes = VoteStore(connection)
    registry = ModelRegistry(settings.artifacts_dir)

    def ask(request, client: str | None, http: Request) -> Answer:
        check_rate(connection, WEB_TEAM, http.client.host if http.client else "unknown", settings.user_rate, settings.team_rate)
        job = enqueue_web(connection, request, client or "anonymous", settings)
        return answer_from(job.id, wait_for(job, settings.api_wait))

    @router.post("/generate", response_model=Answer, responses={202: {"model": Answer}})
    def generate(body: GenerateIn, http: Request) -> JSONResponse:
        """New names in the style of a corpus, best first (judge + reranker), some picked for exploration."""
        return _respond(ask(generate_request(body, settings), body.client, http))

    @router.post("/complete", response_model=Answer, responses={202: {"model": Answer}})
    def complete(body: CompleteIn, http: Request) -> JSONResponse:
        """Fillings of a pattern such as `mo***` or `*u*a`, most likely first."""
        return _respond(ask(complete_request(body, settings), body.client, http))

    @router.post("/detect", response_model=Answer, responses={202: {"model": Answer}})
    def detect(body: DetectIn, http: Request) -> JSONResponse:
        """What a name or a text sounds like: corpora, and the language for text."""
        return _respond(ask(detect_request(body), body.client, http))

    @router.get("/answers/{answer_id}", response_model=Answer, responses={202: {"model": Answer}})
    def answer(answer_id: str) -> JSONResponse:
        """An answer that was still queued when its request returned."""
        job = _job(answer_id)
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            return _respond(answer_from(job.id, job.return_value()))
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            raise JobFailed(job.id, "")
        return _respond(answer_from(job.id, None))

    @router.post("/votes", response_model=VoteOut)
    def vote(body: VoteIn) -> VoteOut:
        """Thumbs up (direction 1) or down (-1) on a candidate of an answer; `added: false` takes it back."""
        shown = votes.candidates_on(WEB_CHANNEL, body.answer_id) if ANSWER_ID.match(body.answer_id) else 0
        if shown == 0:
            raise NotFound(f"No answer {body.answer_id[:64]!r} with names to vote on.")
        if body.index > shown:
            raise TNaaSError(f"That answer has {shown} names; there is no #{body.index}.")
        votes.vote(WEB_CHANNEL, body.answer_id, body.index, body.voter, body.direction, body.added)
        tally = votes.tally(WEB_CHANNEL, body.answer_id).get(body.index, {"up": 0, "down": 0})
        return VoteOut(answer_id=body.answer_id, index=body.index, **tally)

    @router.get("/corpora", response_model=list[CorpusOut])
    def corpora() -> list[CorpusOut]:
        """Every corpus, with the models trained for it (the page's pickers come from here)."""
        trained: dict[str, list[str]] = {}
        for info in registry.trained():
            trained.setdefault(info.corpus, []).append(info.model)
        order = {m: i for i, m in enumerate(default_models())}
        return [CorpusOut(name=name, names=meta["count"], source=meta["source"], license=meta["license"],
                          models=sorted(trained.get(name, []), key=lambda m: (order.get(m, 99), m)))
                for name, meta in manifest().items()]

    @router.get("/models", response_model=ModelsOut)
    def models(corpus: Annotated[str | None, Query(description="standings for one corpus; default all")] = None) -> ModelsOut:
        """The default models and how they stand in the team's votes (Beta posteriors)."""
        counts = votes.arm_counts("model", checked_corpus(corpus) if corpus else None)
        return ModelsOut(models=[ModelOut(name=m, description=describe(m)) for m in default_models()],
                         standings=standings(counts))

    @router.get("/top", response_model=list[tuple[str, int]])
    def top() -> list[tuple[str, int]]:
        """Best-voted names (up minus down), across Slack and the web."""
        return votes.top()

    def _job(answer_id: str) -> Job:
        if not ANSWER_ID.match(answer_id):
            raise NotFound("No such answer.")
        try:
            return Job.fetch(answer_id, connection=connection)
        except NoSuchJobError:
            raise NotFound("No such answer (answers are kept for a while, then forgotten).") from None

    return router


def _respond(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if answer.status == "done" else 202)
