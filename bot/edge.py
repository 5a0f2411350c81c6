"""The web process's front door: cheap checks before any route reads a request's body.

``Edge`` is plain ASGI middleware with one ``Gate`` per path prefix (the API's ``/api/`` and Slack's
``/slack/``, their caps in ``core.limits``). For a request under a gate:
1. the token (when the gate has one) is checked from the headers alone: 401 before a byte of the
   body is read, so unauthenticated megabytes are never read, let alone parsed;
2. the body is read up to the gate's ``max_body`` (413 as soon as ``Content-Length`` or the bytes
   received say more, without reading the rest);
3. for JSON gates the body must be UTF-8 and JSON with numbers of at most ``MAX_JSON_NUMBER_LEN``
   characters and nesting at most ``MAX_JSON_DEPTH`` deep, checked in a worker thread (a parse is
   CPU work: the event loop keeps serving other requests meanwhile);
then the body is handed on to the route as if it came from the socket. Slack's gate skips the JSON
checks: its signature is checked over the raw body, by its route, which refuses the same way. Every
refusal is a ``Refused``, answered as JSON ``{"error": ...}`` (``refusal``).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from core.limits import MAX_JSON_DEPTH, MAX_JSON_NUMBER_LEN

PARSE_IN_THREAD_ABOVE = 4096  # bytes: smaller bodies parse in microseconds, a thread hop costs more


@dataclass(frozen=True)
class Gate:
    prefix: str
    max_body: int
    token: str | None = None  # when set: `Authorization: Bearer <token>` required
    json_checks: bool = True


class Refused(Exception):
    """A request turned away before it does anything: its status, and what to tell the caller."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def refusal(refused: Refused) -> JSONResponse:
    return JSONResponse({"error": refused.message}, status_code=refused.status, headers=refused.headers)


UNAUTHORIZED = "This API needs a token: send `Authorization: Bearer <TNAAS_API_TOKEN>`."


def token_ok(authorization: str, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, offered = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode())


def _number(text: str):
    if len(text) > MAX_JSON_NUMBER_LEN:
        raise Refused(400, f"A number in the request has {len(text):,} characters; at most {MAX_JSON_NUMBER_LEN}.")
    return float(text) if any(c in text for c in ".eE") else int(text)


def _constant(name: str):
    raise Refused(400, f"{name} is not a number JSON allows.")


def _depth(value) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_json(body: bytes) -> None:
    """Refused(400) unless ``body`` is UTF-8 JSON within the number-length and nesting limits."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "The request body is not valid UTF-8.") from None
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except RecursionError:
        raise Refused(400, f"The request body is nested too deeply (at most {MAX_JSON_DEPTH} levels).") from None
    except ValueError:
        raise Refused(400, "The request body is not valid JSON.") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise Refused(400, f"The request body is nested too deeply (at most {MAX_JSON_DEPTH} levels).")


class Edge:
    def __init__(self, app, gates: list[Gate]):
        self.app, self.gates = app, gates

    def gate_for(self, path: str) -> Gate | None:
        return next((g for g in self.gates if path.startswith(g.prefix)), None)

    async def __call__(self, scope, receive, send):
        gate = self.gate_for(scope["path"]) if scope["type"] == "http" else None
        if gate is None or scope["method"] == "OPTIONS":  # CORS preflights carry no token
            return await self.app(scope, receive, send)
        try:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            if gate.token and not token_ok(headers.get("authorization", ""), gate.token):
                raise Refused(401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
            if scope["method"] not in ("POST", "PUT", "PATCH"):
                return await self.app(scope, receive, send)
            body = await read_capped(receive, headers.get("content-length"), gate.max_body)
            if gate.json_checks and body:
                if len(body) > PARSE_IN_THREAD_ABOVE:
                    await run_in_threadpool(check_json, body)
                else:
                    check_json(body)
        except Refused as refused:
            return await refusal(refused)(scope, receive, send)
        await self.app(scope, replay(body, receive), send)


async def read_capped(receive, content_length: str | None, limit: int) -> bytes:
    """The whole body, or Refused(413) as soon as it is known to exceed ``limit`` bytes."""
    too_big = Refused(413, f"The request body is larger than {limit:,} bytes: this endpoint reads at most that.")
    if content_length is not None:
        if not (content_length.isascii() and content_length.isdigit()):
            raise Refused(400, "Content-Length is not a number.")
        if int(content_length) > limit:
            raise too_big
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "The client went away before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive):
    """A ``receive`` that yields ``body`` once, then whatever the connection says (a disconnect)."""
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
