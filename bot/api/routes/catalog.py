"""What can be asked for: the corpora (with their trained models) and the models (with their standings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from bot.api.deps import RedisDep, SettingsDep
from bot.api.errors import errors
from bot.api.schemas import CorpusOut, ModelOut, ModelsOut
from core.artifacts import trained_name_models
from core.model_names import default_models, describe
from core.standings import standings
from corpora import manifest
from jobs.contracts import Corpus
from store.arms import ArmCounts

router = APIRouter(tags=["catalog"])


@router.get("/corpora", response_model=list[CorpusOut])
def corpora(settings: SettingsDep) -> list[CorpusOut]:
    """Every corpus, with the models trained for it (the page's pickers come from here)."""
    trained = trained_name_models(settings.artifacts_dir)
    order = {m: i for i, m in enumerate(default_models())}
    return [
        CorpusOut(
            name=name,
            names=meta["count"],
            source=meta["source"],
            license=meta["license"],
            models=sorted(trained.get(name, []), key=lambda m: (order.get(m, 99), m)),
        )
        for name, meta in manifest().items()
    ]


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
