"""What API callers send and get back (the job contract's replies are reused as they are)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from core.examples import example_of
from core.limits import (
    MAX_CHECK_NAMES,
    MAX_CLIENT_ID_LEN,
    MAX_CORPUS_NAME_LEN,
    MAX_MODEL_NAME_LEN,
    MAX_NAME_LEN,
    MAX_PATTERN_LEN,
    MAX_TEXT_LEN,
    SEED_MAX,
    TEAM_CORPUS_MAX_BYTES,
    TEAM_CORPUS_MAX_NAMES,
    TEAM_CORPUS_MIN_NAMES,
    TEAM_CORPUS_SLUG_LEN,
)
from core.standings import Standing
from jobs.contracts import CheckReply, CorpusReport, NamesReply, SoundsLike

CLIENT_ID = rf"^[A-Za-z0-9_-]{{1,{MAX_CLIENT_ID_LEN}}}$"
N_DOC = "how many names: default TNAAS_DEFAULT_N, at most TNAAS_MAX_N"
SEED_DOC = "same seed, same names (with the same models and votes); default: a fresh draw"
CORPUS_DOC = "the corpus whose style to follow (see /corpora); default: TNAAS_DEFAULT_CORPUS"
MODEL_DOC = "a name model of the corpus (see /corpora); default: the bandit picks the best-voted one"
FREE_DOC = "only names free on the corpus' registry (PyPI for pypi, npm for npm, both for the others)"
CLIENT_DOC = "a stable id of the caller, kept with the names shown (the page sends one)"
ANSWER_ID_EXAMPLE = "ff728b6ab4fc41e79af67fb37ac8d270"


# -- what callers send ------------------------------------------------------------------------------
class GenerateIn(BaseModel):
    corpus: str = Field(
        max_length=MAX_CORPUS_NAME_LEN,
        description="the corpus whose style to follow (see /corpora)",
        examples=["pokemon"],
    )
    model: str | None = Field(None, max_length=MAX_MODEL_NAME_LEN, description=MODEL_DOC, examples=["kn3"])
    n: int | None = Field(None, ge=1, description=N_DOC, examples=[5])
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description=SEED_DOC, examples=[42])
    free: bool = Field(False, description=FREE_DOC, examples=[False])
    client: str | None = Field(None, pattern=CLIENT_ID, description=CLIENT_DOC, examples=["web-3f2a9c"])


class CompleteIn(BaseModel):
    # The pattern's own limit (core.limits.MAX_PATTERN_LEN) applies after normalisation, which drops
    # invisible characters: the raw field only has to fit in a text.
    pattern: str = Field(
        max_length=MAX_TEXT_LEN,
        description=f"each * is exactly one unknown letter; the others stay; at most {MAX_PATTERN_LEN} characters",
        examples=["mo***"],
    )
    corpus: str | None = Field(None, max_length=MAX_CORPUS_NAME_LEN, description=CORPUS_DOC, examples=["pokemon"])
    model: str | None = Field(None, max_length=MAX_MODEL_NAME_LEN, description=MODEL_DOC, examples=["kn3"])
    n: int | None = Field(None, ge=1, description=N_DOC, examples=[5])
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description=SEED_DOC, examples=[42])
    client: str | None = Field(None, pattern=CLIENT_ID, description=CLIENT_DOC, examples=["web-3f2a9c"])


class LikeIn(BaseModel):
    name: str = Field(
        max_length=MAX_TEXT_LEN,
        description=f"the name to start from: a whole name, at most {MAX_NAME_LEN} characters",
        examples=["pikachu"],
    )
    corpus: str | None = Field(None, max_length=MAX_CORPUS_NAME_LEN, description=CORPUS_DOC, examples=["pokemon"])
    model: str | None = Field(None, max_length=MAX_MODEL_NAME_LEN, description=MODEL_DOC, examples=["kn3"])
    n: int | None = Field(None, ge=1, description=N_DOC, examples=[5])
    seed: int | None = Field(None, ge=0, le=SEED_MAX, description=SEED_DOC, examples=[42])
    free: bool = Field(False, description=FREE_DOC, examples=[False])
    client: str | None = Field(None, pattern=CLIENT_ID, description=CLIENT_DOC, examples=["web-3f2a9c"])


class CheckIn(BaseModel):
    names: list[str] = Field(
        min_length=1,
        max_length=MAX_CHECK_NAMES,
        description=f"names as they would be published, at most {MAX_CHECK_NAMES}",
        examples=[["kafkify"]],
    )
    client: str | None = Field(None, pattern=CLIENT_ID, description=CLIENT_DOC, examples=["web-3f2a9c"])

    @field_validator("names")
    @classmethod
    def _short_enough(cls, names: list[str]) -> list[str]:
        if any(len(n) > MAX_TEXT_LEN for n in names):
            raise ValueError(f"each name at most {MAX_TEXT_LEN} characters")
        return names


class DetectIn(BaseModel):
    text: str = Field(
        max_length=MAX_TEXT_LEN,
        description=f"a name (which corpora it sounds like) or a text (which language), at most {MAX_TEXT_LEN} "
        "characters",
        examples=["snorlax"],
    )
    client: str | None = Field(None, pattern=CLIENT_ID, description=CLIENT_DOC, examples=["web-3f2a9c"])


class VoteIn(BaseModel):
    answer_id: str = Field(
        max_length=MAX_CLIENT_ID_LEN, description="the answer the name was shown in", examples=[ANSWER_ID_EXAMPLE]
    )
    index: int = Field(ge=1, description="1-based position of the candidate in the answer", examples=[2])
    direction: Literal[1, -1] = Field(1, description="1: thumbs up, -1: thumbs down", examples=[1])
    added: bool = Field(True, description="false takes the vote back", examples=[True])
    voter: str | None = Field(
        None,
        pattern=CLIENT_ID,
        description="who votes, honoured only from a caller with the API token; the page votes under its "
        "signed cookie, anyone else as their address",
        examples=["u-1234"],
    )


# -- what callers get -------------------------------------------------------------------------------
class Answer(BaseModel):
    """An answer: done (with one of names, check or sounds_like), or queued (poll it)."""

    status: Literal["done", "queued"] = Field(
        description="done: the answer is here; queued: not yet, GET `poll` for it", examples=["done"]
    )
    answer_id: str = Field(description="the answer's id: poll it, vote on its names", examples=[ANSWER_ID_EXAMPLE])
    poll: str | None = Field(
        None, description="while queued: GET this for the answer", examples=[f"/api/v1/answers/{ANSWER_ID_EXAMPLE}"]
    )
    names: NamesReply | None = Field(
        None, description="the names (generate, complete, like)", examples=[example_of(NamesReply)]
    )
    check: CheckReply | None = Field(
        None, description="the availability of each name (check)", examples=[example_of(CheckReply)]
    )
    sounds_like: SoundsLike | None = Field(
        None, description="what the text sounds like (detect)", examples=[example_of(SoundsLike)]
    )


class VoteOut(BaseModel):
    """The candidate's votes after this one."""

    answer_id: str = Field(description="the answer voted on", examples=[ANSWER_ID_EXAMPLE])
    index: int = Field(description="1-based position of the candidate in the answer", examples=[2])
    up: int = Field(description="people for this candidate (voter ids minted in bulk count as one)", examples=[3])
    down: int = Field(description="people against this candidate", examples=[0])


class TopNameOut(BaseModel):
    """A best-voted name: the same letters in two corpora are two names."""

    name: str = Field(description="the name", examples=["scoros"])
    corpus: str = Field(description="the corpus it was made for", examples=["pokemon"])
    votes: int = Field(description="net people: up minus down, across Slack and the web", examples=[4])


class CorpusOut(BaseModel):
    name: str = Field(description="what requests call it", examples=["pokemon"])
    names: int = Field(description="how many names it holds", examples=[1025])
    source: str = Field(description="where its names come from", examples=["npm:pokemon (data/en.json) v3.3.1"])
    license: str = Field(description="the license of its names", examples=["MIT"])
    models: list[str] = Field(
        description="the name models trained for it, the default first (empty: none yet)", examples=[["kn3", "markov2"]]
    )
    team: bool = Field(
        False,
        description="a corpus added through POST /corpora (or `tnaas corpus add`): yours, or the operator's, "
        "shared by all; false for a built-in one",
        examples=[False],
    )
    status: Literal["ready", "training", "failed"] = Field(
        "ready",
        description="a team corpus: ready to answer, still training its first version, or failed",
        examples=["ready"],
    )


class CorpusIn(BaseModel):
    """A team's own corpus: a name and its names. The same name again replaces it (its current version
    answers until the new one is trained)."""

    name: str = Field(
        max_length=MAX_CORPUS_NAME_LEN,
        description=f"what requests will call it: a slug (lowercase letters, digits, single hyphens, at most "
        f"{TEAM_CORPUS_SLUG_LEN}) that no built-in corpus has",
        examples=["norse-gods"],
    )
    names: list[str] = Field(
        description=f"the names, one per item ({TEAM_CORPUS_MIN_NAMES} to {TEAM_CORPUS_MAX_NAMES:,}, at most "
        f"{TEAM_CORPUS_MAX_BYTES // 1_048_576} MB): normalised (lower case), duplicates and names that cannot be "
        f"learnt (over {MAX_NAME_LEN} characters, emoji, invisible characters) dropped and counted in the report",
        examples=[["odin", "thor", "freya", "loki", "baldur"]],
    )


class TeamCorpusOut(BaseModel):
    """A team corpus' state: while it trains, then with its training report."""

    name: str = Field(description="the corpus", examples=["norse-gods"])
    status: Literal["ready", "training", "failed"] = Field(
        description="ready to answer; training its first version; or failed (the error says why)", examples=["ready"]
    )
    training: bool = Field(
        False,
        description="a new version is being trained (a ready corpus answers with its current one)",
        examples=[False],
    )
    shared: bool = Field(False, description="the operator's, shared by all (not yours to delete)", examples=[False])
    version: str | None = Field(None, description="the version answering now", examples=["5e0c1a2b3d4f"])
    report: CorpusReport | None = Field(
        None, description="what its training made of the list, once trained", examples=[example_of(CorpusReport)]
    )
    error: str | None = Field(None, description="why its last training failed", examples=[None])
    poll: str = Field(description="where to ask for its state", examples=["/api/v1/corpora/norse-gods"])


class CorpusDeleted(BaseModel):
    name: str = Field(description="the corpus deleted", examples=["norse-gods"])
    impressions: int = Field(description="names shown from it, deleted with their votes", examples=[25])


class ModelOut(BaseModel):
    name: str = Field(description="what requests call it", examples=["kn3"])
    description: str = Field(
        description="what it is, in a line", examples=["interpolated modified Kneser-Ney, exact sampling, order 3"]
    )


class ModelsOut(BaseModel):
    models: list[ModelOut] = Field(description="the default name models", examples=[[example_of(ModelOut)]])
    standings: list[Standing] = Field(
        description="how each model stands in the team's votes, best first",
        examples=[[{"arm": "kn3", "shown": 120, "up": 18, "mean": 0.156, "low": 0.107, "high": 0.212, "p_best": 0.81}]],
    )
