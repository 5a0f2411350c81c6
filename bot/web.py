"""The web process's ASGI app: the playground page, the JSON API, /healthz and Slack's /slack/* routes."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis import Redis
from redis.exceptions import RedisError

from bot.api.batching import Batcher
from bot.api.deps import address_of, cookie_voter, voter_cookies
from bot.api.errors import install_error_handlers
from bot.api.main import api_router
from bot.api.openapi import install_api_document
from bot.api.voters import COOKIE
from bot.edge import Edge, Gate
from bot.health import Health, health
from bot.metrics import Observed, metrics_registry
from bot.slack.endpoint import install_slack
from core.limits import (
    MAX_API_BODY,
    SLACK_MAX_BODY,
    SLACK_REDIS_TIMEOUT,
    TEAM_CORPUS_MAX_BODY,
    VOTER_COOKIE_MAX_AGE,
)
from core.settings import get_settings
from store.answers import Answers
from store.connection import async_redis_client, redis_client
from store.voters import VoterBatches

log = logging.getLogger(__name__)
NOT_READY = "Not ready: `problems` says why (Redis, the workers, the queue, failed jobs or model versions)."
STATIC = Path(__file__).parent / "static"
# The page loads nothing from elsewhere (no CDN) and runs no inline script.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(connection: Redis | None = None) -> FastAPI:
    settings = get_settings()
    url = settings.redis_url or "redis://127.0.0.1:6379/0"
    redis = connection or redis_client(url, socket_timeout=2)
    # The API blocks on a job's result for up to api_wait: its connection must outlast that.
    api_redis = connection or redis_client(url, socket_timeout=settings.api_wait + 5)
    aredis = async_redis_client(url, socket_timeout=settings.api_wait + 5)
    # Slack's edge must ack within 3 s: each of its Redis calls is bounded, a timeout not sent again.
    slack_redis = connection or redis_client(url, socket_timeout=SLACK_REDIS_TIMEOUT, retry_timeouts=False)
    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN, and this must work offline.
    app = FastAPI(
        title="TNaaS",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        description="Tech Names as a Service: believable new names in the style of a corpus, pattern "
        "completion, what a name sounds like, and votes that teach it what the team likes.",
    )
    # Token, size and shape checks before a route reads the body (innermost: CORS answers preflights first).
    gates = [
        Gate("/api/v1/corpora", TEAM_CORPUS_MAX_BODY, token=settings.api_token),  # a team's list: up to 2 MB
        Gate("/api/", MAX_API_BODY, token=settings.api_token),
        Gate("/slack/", SLACK_MAX_BODY, json_checks=False),
    ]
    app.add_middleware(Edge, gates=gates)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Observed, record_metrics=settings.metrics)  # outermost: sees every answer
    app.state.settings, app.state.api_redis, app.state.redis = settings, api_redis, redis
    app.state.aredis, app.state.batcher = aredis, Batcher(api_redis, Answers(aredis), settings)
    install_error_handlers(app)
    app.include_router(api_router)
    install_api_document(app)

    batches = VoterBatches(redis)

    @app.get("/", include_in_schema=False)
    def page(request: Request) -> FileResponse:
        """The playground, with a signed voter cookie the first time (its votes count under it), while its
        address has new voter ids left today; past that, without one (its votes count as the address)."""
        response = FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)
        try:
            if cookie_voter(request) is None:
                cookies, now = voter_cookies(request), time.time()
                tag = cookies.address_tag(address_of(request))
                if not batches.issue(tag, now):
                    return response
                response.set_cookie(
                    COOKIE,
                    cookies.issue(batches.window(now), tag),
                    max_age=VOTER_COOKIE_MAX_AGE,
                    httponly=True,
                    samesite="strict",
                    secure=request.url.scheme == "https",
                )
        except RedisError:  # no signing key without Redis: the page works, its votes wait for a cookie
            log.warning("Redis unavailable: the page is served without a voter cookie")
        return response

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/livez", include_in_schema=False)
    def livez() -> JSONResponse:
        """Liveness: this process answers (restart it if not). Says nothing of Redis or the workers."""
        return JSONResponse({"ok": True})

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": NOT_READY}})
    def healthz() -> JSONResponse:
        """Readiness: can the stack answer requests now? 503 with the problems listed when not."""
        report = health(redis, settings)
        return JSONResponse(report.model_dump(), status_code=200 if report.ok else 503)

    if settings.metrics:
        registry = metrics_registry(redis, settings.queue)

        @app.get("/metrics", include_in_schema=False)
        def metrics() -> Response:
            """Prometheus text format: this process's requests plus the stack's state from Redis."""
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.state.slack = install_slack(app, settings, slack_redis)  # /slack/events, /slack/install, /slack/oauth_redirect

    return app
