"""Every error is JSON ``{"error": "..."}`` with the status that says what kind of problem it is,
the framework's own included (unknown routes, wrong methods, bodies it cannot parse), and so is
what nobody foresaw (a 500 that says to try again, never a traceback or a server path)."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from core.errors import Busy, TNaaSError
from core.limits import MAX_API_BODY
from jobs.queueing import JobFailed
from store.rate_limit import WINDOW, RateLimited

log = logging.getLogger(__name__)
UNAVAILABLE = "Our database is unavailable for a moment (nothing you sent was kept): try again in a few seconds."
UNAVAILABLE_RETRY = "1"  # second: `tnaas up` restarts Redis within about one


class ApiError(BaseModel):
    """What went wrong, said for people."""

    error: str = Field(
        description="what was wrong and, where it helps, what would work",
        examples=["I don't know a corpus called 'digimon'. Try one of: cats, pokemon."],
    )


class NotFound(Exception):
    pass


class Conflict(Exception):
    """The request clashes with one in progress (an upload of the same corpus still training)."""


WHY = {
    400: "Bad input: the message says what was wrong and what would work.",
    401: "No API token, or the wrong one: only when the stack has TNAAS_API_TOKEN set.",
    404: "No such answer (answers are kept for TNAAS_RESULT_TTL seconds, then forgotten), or no such corpus of yours.",
    409: "That corpus is being trained from another upload right now: wait for it, then send yours.",
    413: f"The request body is larger than {MAX_API_BODY:,} bytes.",
    429: "Too many requests from you (or your team) this minute.",
    500: "Something went wrong on our side (the job failed for good): try again.",
    503: "Busy (the queue is full, or the request waited too long for a worker), or the database is away.",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}


def errors(*statuses: int) -> dict[int | str, dict]:
    """The errors a route really answers, for its OpenAPI entry: each a JSON ``{"error": ...}``; a 429
    or 503 says in Retry-After when to try again."""
    return {
        status: {"model": ApiError, "description": WHY[status]}
        | ({"headers": RETRY_AFTER} if status in (429, 503) else {})
        for status in statuses
    }


def validation_message(err: RequestValidationError) -> str:
    """The first problem, said plainly: 'n: Input should be greater than or equal to 1', or the words
    of the contract's own check (a query's unknown corpus)."""
    first = err.errors()[0]
    if isinstance(raised := first.get("ctx", {}).get("error"), TNaaSError):
        return str(raised)
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    return f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")


def error(status: int, message: str, **headers) -> JSONResponse:
    return JSONResponse(ApiError(error=message).model_dump(), status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
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

    @app.exception_handler(NotFound)
    async def not_found(_, err: NotFound):
        return error(404, str(err))

    @app.exception_handler(Conflict)
    async def conflict(_, err: Conflict):
        return error(409, str(err))

    @app.exception_handler(JobFailed)
    async def failed(_, err: JobFailed):
        return error(500, "Something went wrong on our side; try again.")

    @app.exception_handler(RedisError)
    async def redis_down(_, err: RedisError):
        log.warning("Redis unavailable: %s", err)
        return error(503, UNAVAILABLE, **{"Retry-After": UNAVAILABLE_RETRY})

    @app.exception_handler(HTTPException)
    async def http_error(_, err: HTTPException):
        return error(err.status_code, str(err.detail), **(err.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(_, err: Exception):  # the server logs the traceback; the caller gets no trace of it
        return error(500, "Something went wrong on our side; try again.")
