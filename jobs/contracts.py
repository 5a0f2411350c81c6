"""What the web side sends to workers and gets back: one typed contract for both sides."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from models.sounds_like import SoundsLike


class GenerateRequest(BaseModel):
    kind: Literal["generate"] = "generate"
    corpus: str
    model: str | None = None
    n: int = Field(5, ge=1, le=200)
    seed: int | None = None
    include_known: bool = False
    rerank: bool = True  # sample a pool, show the best n (judge + reranker) with some exploration


class CompleteRequest(BaseModel):
    kind: Literal["complete"] = "complete"
    pattern: str = Field(max_length=200)
    corpus: str
    model: str | None = None
    n: int = Field(5, ge=1, le=200)
    seed: int | None = None


class DetectRequest(BaseModel):
    kind: Literal["detect"] = "detect"
    text: str = Field(max_length=20_000)


class CandidateOut(BaseModel):
    name: str
    log_prob: float
    known: bool
    believability: float | None  # P(corpus | name) from the judge
    judge: dict[str, float] = {}  # P(c | name) for every corpus c
    nll: dict[str, float | None] = {}  # nats per character under every model of the corpus (None: impossible)
    score: float | None = None  # what the ranking used: P(up-vote) from the reranker, else believability
    explore: bool = False  # shown at random from the pool rather than for its score


class NamesReply(BaseModel):
    corpus: str
    model: str
    model_version: str
    model_chosen_by: Literal["request", "bandit", "default"] = "request"
    ranked_by: str = "likelihood"  # "reranker <version>", "judge" or "likelihood"
    pattern: str | None = None
    candidates: list[CandidateOut]


class DetectReply(BaseModel):
    answer: SoundsLike


class UserError(BaseModel):
    """Bad input a user can fix: returned as a result, never retried."""

    error: str


Request = GenerateRequest | CompleteRequest | DetectRequest
