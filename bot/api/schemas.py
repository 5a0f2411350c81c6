"""What API callers send and get back (the job contract's replies are reused as they are)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from core.limits import (
    MAX_CHECK_NAMES,
    MAX_CLIENT_ID_LEN,
    MAX_CORPUS_NAME_LEN,
    MAX_MODEL_NAME_LEN,
    MAX_TEXT_LEN,
    SEED_MAX,
)
from core.standings import Standing
from jobs.contracts import CheckReply, NamesReply, SoundsLike

CLIENT_ID = rf"^[A-Za-z0-9_-]{{1,{MAX_CLIENT_ID_LEN}}}$"
N_DOC = "default TNAAS_DEFAULT_N, at most TNAAS_MAX_N"
SEED_DOC = "same seed, same names (with the same models and votes)"


# -- what callers send ------------------------------------------------------------------------------
class GenerateIn(BaseModel):
    corpus: str = Field(max_length=MAX_CORPUS_NAME_LEN, examples=["pokemon"])
    model: str | None = Field(
        None, max_length=MAX_MODEL_NAME_LEN, description="default: the bandit picks the best-voted model"
    )
    n: int | None = Field(None, ge=1, description=N_DOC)
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description=SEED_DOC)
    free: bool = Field(False, description="only names free on the corpus' registry (PyPI, npm; both for others)")
    client: str | None = Field(None, pattern=CLIENT_ID, description="a stable id of the caller (the page sends one)")


class CompleteIn(BaseModel):
    # The pattern's own limit (core.limits.MAX_PATTERN_LEN) applies after normalisation, which drops
    # invisible characters: the raw field only has to fit in a text.
    pattern: str = Field(
        max_length=MAX_TEXT_LEN, examples=["mo***"], description="each * is exactly one unknown character"
    )
    corpus: str | None = Field(None, max_length=MAX_CORPUS_NAME_LEN, description="default: TNAAS_DEFAULT_CORPUS")
    model: str | None = Field(None, max_length=MAX_MODEL_NAME_LEN)
    n: int | None = Field(None, ge=1, description=N_DOC)
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description=SEED_DOC)
    client: str | None = Field(None, pattern=CLIENT_ID)


class LikeIn(BaseModel):
    name: str = Field(max_length=MAX_TEXT_LEN, examples=["kafka"], description="the name to start from")
    corpus: str | None = Field(None, max_length=MAX_CORPUS_NAME_LEN, description="default: TNAAS_DEFAULT_CORPUS")
    model: str | None = Field(None, max_length=MAX_MODEL_NAME_LEN)
    n: int | None = Field(None, ge=1, description=N_DOC)
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description=SEED_DOC)
    free: bool = False
    client: str | None = Field(None, pattern=CLIENT_ID)


class CheckIn(BaseModel):
    names: list[str] = Field(
        min_length=1, max_length=MAX_CHECK_NAMES, examples=[["kafkify"]], description="names as they would be published"
    )
    client: str | None = Field(None, pattern=CLIENT_ID)

    @field_validator("names")
    @classmethod
    def _short_enough(cls, names: list[str]) -> list[str]:
        if any(len(n) > MAX_TEXT_LEN for n in names):
            raise ValueError(f"each name at most {MAX_TEXT_LEN} characters")
        return names


class DetectIn(BaseModel):
    text: str = Field(max_length=MAX_TEXT_LEN, examples=["snorlax"])
    client: str | None = Field(None, pattern=CLIENT_ID)


class VoteIn(BaseModel):
    answer_id: str = Field(max_length=MAX_CLIENT_ID_LEN)
    index: int = Field(ge=1, description="1-based position of the candidate in the answer")
    direction: Literal[1, -1] = 1
    added: bool = Field(True, description="false takes the vote back")
    voter: str | None = Field(
        None,
        pattern=CLIENT_ID,
        description="who votes, honoured only from a caller with the API token; the page votes under its "
        "signed cookie, anyone else as their address",
    )


# -- what callers get -------------------------------------------------------------------------------
class Answer(BaseModel):
    status: Literal["done", "queued"]
    answer_id: str
    poll: str | None = Field(None, description="while queued: GET this for the answer")
    names: NamesReply | None = None
    check: CheckReply | None = None
    sounds_like: SoundsLike | None = None


class VoteOut(BaseModel):
    answer_id: str
    index: int
    up: int
    down: int


class CorpusOut(BaseModel):
    name: str
    names: int
    source: str
    license: str
    models: list[str]  # trained for this corpus


class ModelOut(BaseModel):
    name: str
    description: str


class ModelsOut(BaseModel):
    models: list[ModelOut]
    standings: list[Standing]
