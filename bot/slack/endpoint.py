"""Slack's HTTP edge: ``/slack/events`` (events, slash commands, interactivity), ``/slack/install`` and
``/slack/oauth_redirect`` (any workspace installs the app).

Bolt reads and parses a body before it checks the signature, puts no cap on its size, and raises on a
malformed timestamp or body (measured: HTTP 500). So each request is checked first, in this order,
and Bolt only ever sees signed, well-formed requests:

1. size: over ``SLACK_MAX_BODY`` bytes -> 413, read no further (the front door's ``/slack/`` gate,
   ``bot.edge``, before this route runs);
2. text: not UTF-8 -> 400 (Slack only sends UTF-8, and a signature is checked over the text);
3. signature and timestamp (``v0=`` + 64 hex digits, an integer within five minutes) -> 401;
4. shape: JSON only as an Events API envelope (an object with a known ``type``), a form only as a
   slash command, one interactivity ``payload`` (a JSON object) or an SSL check; and what Bolt parses
   of it has the shape Slack gives it (``bot.slack.payloads``: ids, events, actions) -> 400. Slack
   itself never sends such a body, so a 400 costs no user anything, and nothing reaches Bolt that
   would make it raise (a 500);
5. replay: a signature seen before (the same timestamp and body) -> 200, and nothing is done again.

Every refusal is the front door's ``Refused``, answered the same way. Everything past the size check
(hashing, parsing, Bolt itself, which waits for a slash command's ack) runs in a worker thread, never
on the event loop.

Redis down, paused or refusing writes: a request is acknowledged within ``SLACK_ACK_BUDGET`` (Slack
shows its own failure after 3 s), never with Slack's generic failure and never in silence. Every Redis
call before the ack is bounded (``SLACK_REDIS_TIMEOUT``, no retry of a timeout: the web process gives
this edge its own client), and the first that fails marks the request (``AckBudget.redis_down``): no
later step waits again.

- A slash command is acknowledged as queued only once it is; else its ack says to try again in a
  minute (an ephemeral 200).
- A mention or a direct message is acknowledged (Bolt acknowledges an event before its listener
  runs) and, when it cannot be queued, its user is told privately to try again. Not acknowledging it
  instead would leave it to Slack's retries, which come nearly at once, then after one and five minutes,
  and then stop: an outage longer than that would lose it in silence, and an answer minutes late to a
  chat message is more confusing than "try again"; Slack also turns off the event subscriptions of an
  app that fails too many deliveries.
- Other events (reactions, which are votes; the Home tab; uninstalls) have nobody to tell: when the
  replay check finds Redis failing they are not acknowledged (503), and Slack sends them again later,
  de-duplicated by event id (nothing was written for them).
- With OAuth, finding a workspace's installation needs Redis too: when it fails, a slash command is
  told to try again, an event is not acknowledged (there is no token to tell its user with, so Slack's
  retry is the only way), a click is told through its response_url (``bot.slack.app``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from redis import Redis
from redis.exceptions import RedisError
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from bot.edge import Refused, refusal
from bot.slack.app import HOW_TO_CONNECT, create_slack_app
from bot.slack.deps import ACK, AckBudget
from bot.slack.payloads import KINDS
from core.settings import Settings
from store.events import SeenRequests

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
EVENT_TYPES = {"url_verification", "event_callback", "app_rate_limited"}
TOLD_EVENTS = {"app_mention", "message"}  # events whose listener tells its user when it cannot queue them
FORM, JSON_TYPE = "application/x-www-form-urlencoded", "application/json"
NOT_INSTALLABLE = (
    "This TNaaS answers one workspace, by its SLACK_BOT_TOKEN. To let any workspace install it, set "
    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (see the README)."
)


@dataclass
class SlackEdge:
    app: App | None
    connection: Redis
    settings: Settings


def install_slack(app: FastAPI, settings: Settings, connection: Redis) -> App | None:
    """Build the Bolt app when Slack is configured (else /slack/* say how to connect it) and mount
    the routes; with SLACK_APP_TOKEN, also connect by Socket Mode."""
    slack = create_slack_app(settings, connection) if settings.slack_enabled else None
    app.state.slack_edge = SlackEdge(slack, connection, settings)
    app.include_router(router)
    if slack is None:
        log.warning(HOW_TO_CONNECT)
    elif settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        # Socket Mode: Slack pushes events over a websocket we open; /slack/events stays available.
        SocketModeHandler(slack, settings.slack_app_token, web_client=slack.client).connect()
        log.info("Slack Socket Mode connected")
    return slack


@router.post("/slack/events")
async def slack_events(request: Request) -> Response:
    edge: SlackEdge = request.app.state.slack_edge
    if edge.app is None:
        return JSONResponse({"error": HOW_TO_CONNECT}, status_code=503)
    body = await request.body()  # read whole, within its cap, by the front door
    try:
        response = await run_in_threadpool(dispatch, edge, dict(request.headers), str(request.url.query), body)
    except Refused as refused:
        return refusal(refused)
    return to_starlette_response(response)


@router.get("/slack/install")
async def slack_install(request: Request) -> Response:
    return await _oauth(request, "install")


@router.get("/slack/oauth_redirect")
async def slack_oauth_redirect(request: Request) -> Response:
    return await _oauth(request, "callback")


async def _oauth(request: Request, step: str) -> Response:
    """Bolt's OAuth flow: the "Add to Slack" page (a state issued, kept in Redis and a cookie), then
    Slack's redirect (state consumed, code exchanged by oauth.v2.access, installation saved)."""
    edge: SlackEdge = request.app.state.slack_edge
    if edge.app is None:
        return JSONResponse({"error": HOW_TO_CONNECT}, status_code=503)
    flow = edge.app.oauth_flow
    if flow is None:
        return JSONResponse({"error": NOT_INSTALLABLE}, status_code=404)
    bolt_request = BoltRequest(body="", query=str(request.url.query), headers=dict(request.headers))
    handle = flow.handle_installation if step == "install" else flow.handle_callback
    return to_starlette_response(await run_in_threadpool(handle, bolt_request))


def text_of(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "The body is not UTF-8.") from None


def verify(headers: dict, body: str, secret: str) -> str:
    """The request's signature when it is Slack's (HMAC of the timestamp and body, five minutes at most)."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(signature):
        raise Refused(401, "This endpoint only answers requests signed by Slack.")
    if not SignatureVerifier(secret).is_valid(body, timestamp, signature):
        raise Refused(401, "This endpoint only answers requests signed by Slack.")
    return signature


def check_shape(content_type: str, text: str) -> str:
    """What the body is ("event", "command", "interaction" or "ssl_check"); Refused unless it is
    something Slack sends to this endpoint."""
    if content_type.startswith(JSON_TYPE):
        envelope = _json_object(text)
        if not isinstance(envelope.get("type"), str) or envelope["type"] not in EVENT_TYPES:
            raise Refused(400, "A JSON body must be a Slack Events API envelope.")
        return "event"
    if content_type.startswith(FORM):
        form = parse_qs(text, keep_blank_values=True)
        if "payload" in form:
            if len(form["payload"]) != 1:
                raise Refused(400, "An interactivity request has one payload.")
            payload = _json_object(form["payload"][0])
            if not isinstance(payload.get("type"), str):
                raise Refused(400, "The interactivity payload has no type.")
            return "interaction"
        if "command" in form:
            return "command"
        if "ssl_check" in form:
            return "ssl_check"
        raise Refused(400, "A form must be a slash command or an interactivity payload.")
    raise Refused(400, "Slack sends JSON or a form to this endpoint.")


def bolt_request(kind: str, text: str, query: str, headers: dict) -> BoltRequest:
    """The request as Bolt will read it, checked to have Slack's shape (``bot.slack.payloads``)."""
    try:
        request = BoltRequest(body=text, query=query, headers=headers)
    except Exception:  # Bolt's own parsing or its look for ids raised: not a body Slack sends
        raise Refused(400, "The body is not shaped as Slack sends it.") from None
    model = KINDS.get(kind)
    if model is not None:
        try:
            model.model_validate(request.body)
        except ValidationError as err:
            raise Refused(400, f"The body is not shaped as Slack sends it: {_first(err)}.") from None
    return request


def _first(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem.get("loc", ()))
    return f"{where}: {problem.get('msg', 'invalid')}" if where else str(problem.get("msg", "invalid"))


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise Refused(400, "The JSON must be an object.")
    return value


def dispatch(edge: SlackEdge, headers: dict, query: str, body: bytes) -> BoltResponse:
    """Verified, well-formed, first-time requests go to Bolt, with their ack budget; replays get an
    empty 200."""
    budget = AckBudget.starting_now()
    headers = {k.lower(): v for k, v in headers.items()}
    text = text_of(body)
    signature = verify(headers, text, edge.settings.slack_signing_secret or "")
    kind = check_shape(headers.get("content-type", ""), text)
    request = bolt_request(kind, text, query, headers)
    first = first_time(edge.connection, signature)
    if first is None:  # Redis failed: nothing more is tried for this request
        budget = replace(budget, redis_down=True)
        if nobody_to_tell(request.body):
            log.warning(
                "a %s event was not acknowledged (Redis failed): Slack sends it again", request.body["event"]["type"]
            )
            return BoltResponse(status=503, body="")
    elif not first:
        log.warning("a replayed Slack request (signature seen before) was not acted on again")
        return BoltResponse(status=200, body="")
    request.context[ACK] = budget
    return edge.app.dispatch(request)


def first_time(connection: Redis, signature: str) -> bool | None:
    """Whether this signed request is new; None when Redis cannot tell (down, paused, refusing writes)."""
    try:
        return SeenRequests(connection).first_time(signature)
    except RedisError as err:
        log.warning("Redis failed the replay check of a Slack request: %s", err)
        return None


def nobody_to_tell(body: dict) -> bool:
    """An event whose listener has no user to tell that it could not be taken (a reaction, the Home tab)."""
    return body.get("type") == "event_callback" and body["event"]["type"] not in TOLD_EVENTS
