"""What can be asked for: the models (with their standings); the corpora are ``routes.corpora``'s."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from bot.api.deps import RedisDep
from bot.api.errors import errors
from bot.api.schemas import ModelOut, ModelsOut
from core.model_names import default_models, describe
from core.standings import standings
from jobs.contracts import Corpus
from store.arms import ArmCounts

router = APIRouter(tags=["catalog"])


@router.get("/models", response_model=ModelsOut, responses=errors(400, 503))
def models(
    redis: RedisDep,
    corpus: Annotated[
        Corpus | None,
        BeforeValidator(lambda v: v or None),
        Query(description="standings for one corpus; default: all", examples=["pokemon"]),
    ] = None,
) -> ModelsOut:
    """The default models and how they stand in the team's votes (Beta posteriors)."""
    counts = ArmCounts(redis).counts("model", corpus)
    return ModelsOut(
        models=[ModelOut(name=m, description=describe(m)) for m in default_models()], standings=standings(counts)
    )
