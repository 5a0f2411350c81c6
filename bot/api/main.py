"""The ``/api/v1`` router: every resource's routes behind the token check."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bot.api.deps import require_token
from bot.api.errors import ERRORS
from bot.api.routes import answers, catalog, votes

api_router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], responses=ERRORS)
api_router.include_router(answers.router)
api_router.include_router(votes.router)
api_router.include_router(catalog.router)
