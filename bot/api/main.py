"""The ``/api/v1`` router: every resource's routes (the token is checked before, by ``bot.edge``)."""

from __future__ import annotations

from fastapi import APIRouter

from bot.api.errors import errors
from bot.api.routes import answers, catalog, corpora, votes

api_router = APIRouter(prefix="/api/v1", responses=errors(401))  # the edge checks the token on every route
api_router.include_router(answers.router)
api_router.include_router(votes.router)
api_router.include_router(catalog.router)
api_router.include_router(corpora.router)
