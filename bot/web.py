"""The web process's ASGI app: the playground page, the JSON API, /healthz and Slack's /slack/* routes."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis import Redis

from bot.api.errors import install_error_handlers
from bot.api.main import api_router
from bot.health import Health, health
from bot.metrics import Observed, metrics_registry
from bot.slack_http import install_slack
from models.registry import ModelRegistry
from tnaas.settings import get_settings

log = logging.getLogger(__name__)
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
    redis = connection or Redis.from_url(url, socket_timeout=2)
    # The API blocks on a job's result for up to api_wait: its connection must outlast that.
    api_redis = connection or Redis.from_url(url, socket_timeout=settings.api_wait + 5)
    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN, and this must work offline.
    app = FastAPI(
        title="TNaaS",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        description="Tech Names as a Service: believable new names in the style of a corpus, pattern "
        "completion, what a name sounds like, and votes that teach it what the team likes.",
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Observed, record_metrics=settings.metrics)  # outermost: sees every answer
    app.state.settings, app.state.api_redis = settings, api_redis
    app.state.registry = ModelRegistry(settings.artifacts_dir)
    install_error_handlers(app)
    app.include_router(api_router)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", response_model=Health)
    def healthz() -> JSONResponse:
        report = health(redis, settings.queue)
        return JSONResponse(report.model_dump(), status_code=200 if report.ok else 503)

    if settings.metrics:
        registry = metrics_registry(redis, settings.queue)

        @app.get("/metrics", include_in_schema=False)
        def metrics() -> Response:
            """Prometheus text format: this process's requests plus the stack's state from Redis."""
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.state.slack = install_slack(app, settings, redis)  # /slack/events, /slack/install, /slack/oauth_redirect

    return app
