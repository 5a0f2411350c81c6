"""The web process's ASGI app: /healthz and Slack's /slack/events, served by uvicorn."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis import Redis
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

from bot.health import Health, health
from bot.slack_app import HOW_TO_CONNECT, create_slack_app
from tnaas.settings import get_settings

log = logging.getLogger(__name__)


def create_app(connection: Redis | None = None) -> FastAPI:
    settings = get_settings()
    redis = connection or Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0", socket_timeout=2)
    app = FastAPI(title="TNaaS", version="0.1.0")

    @app.get("/healthz", response_model=Health)
    def healthz() -> JSONResponse:
        report = health(redis, settings.queue)
        return JSONResponse(report.model_dump(), status_code=200 if report.ok else 503)

    slack = create_slack_app(settings, redis) if settings.slack_enabled else None
    app.state.slack = slack
    if slack is None:
        log.warning(HOW_TO_CONNECT)
    elif settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        # Socket Mode: Slack pushes events over a websocket we open; /slack/events stays available.
        SocketModeHandler(slack, settings.slack_app_token, web_client=slack.client).connect()
        log.info("Slack Socket Mode connected")

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request):
        if slack is None:
            return JSONResponse({"error": HOW_TO_CONNECT}, status_code=503)
        body = await request.body()
        # Bolt is synchronous (a slash command waits for its ack): keep it off the event loop.
        response = await run_in_threadpool(slack.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    return app
