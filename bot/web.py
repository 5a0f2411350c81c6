"""The web process's ASGI app. Only health for now; it is served on 127.0.0.1 by uvicorn."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis import Redis

from bot.health import Health, health
from tnaas.settings import get_settings


def create_app(connection: Redis | None = None) -> FastAPI:
    settings = get_settings()
    redis = connection or Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0", socket_timeout=2)
    app = FastAPI(title="TNaaS", version="0.1.0")

    @app.get("/healthz", response_model=Health)
    def healthz() -> JSONResponse:
        report = health(redis, settings.queue)
        return JSONResponse(report.model_dump(), status_code=200 if report.ok else 503)

    return app
