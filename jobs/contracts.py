"""What every surface sends to the workers and gets back: one typed contract for both sides.

Requests check themselves: every field is validated here (the corpus exists, the model name is
one, n is within TNAAS_MAX_N, the pattern is normalised and short enough...), so every surface --
the Slack grammar, the API, the command line -- builds the request and turns a ValidationError into
its own friendly error (``first_problem``: the message a check raised, in the surface's order of
fields). A request that reaches a worker is within every limit: read back from RQ (``QUEUED``) it
is taken as it was checked, and whatever the worker finds wrong is a user error it answers.
Dicts exist only where RQ stores a job: ``model_dump`` on the way in, ``request_from`` and
``reply_from`` on the way out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, ValidationInfo

from core.errors import CommandError, TNaaSError, UnknownCorpus
from core.limits import MAX_CHECK_NAMES, MAX_NAME_LEN, MAX_PATTERN_LEN, MAX_TEXT_LEN, SEED_MAX
from core.model_names import canonical_model_name
from core.pattern import EMPTY_PATTERN, WILDCARD, normalise_pattern
from core.settings import get_settings
from corpora import corpus_names


# -- the checks, each raising the friendly error a surface shows ----------------------------------------
def _n(n: int) -> int:
    max_n = get_settings().max_n
    if not 1 <= n <= max_n:
        raise CommandError(f"I can make between 1 and {max_n} names at a time, not {n}.")
    return n


def _corpus(name: str) -> str:
    name = name.strip().lower()
    if name not in corpus_names():
        raise UnknownCorpus(name, corpus_names())
    return name


def _model(name: str | None) -> str | None:
    """Canonical (``kn5``); None for "let the bandit choose"; UnknownModel otherwise."""
    if name is None or not name.strip():
        return None
    return canonical_model_name(name)


def _pattern(text: str) -> str:
    """Normalised, non-empty and at most MAX_PATTERN_LEN characters."""
    pattern = normalise_pattern(text)
    if not pattern:
        raise CommandError(EMPTY_PATTERN)
    if len(pattern) > MAX_PATTERN_LEN:
        raise CommandError(f"Patterns can be at most {MAX_PATTERN_LEN} characters long.")
    return pattern


def _like_name(text: str) -> str:
    """The name ``like`` starts from: normalised as a pattern is, one whole name, within the name limit."""
    name = normalise_pattern(text)
    if not name:
        raise CommandError("`like` needs a name to start from, e.g. `like kafka` or `like kafka pypi`.")
    if WILDCARD in name:
        raise CommandError("`like` takes a whole name, not a pattern: for `*` send the pattern alone, e.g. `k*fk*`.")
    if len(name) > MAX_NAME_LEN:
        raise CommandError(f"Names can be at most {MAX_NAME_LEN} characters long; that one has {len(name)}.")
    return name


def _names(names: list[str]) -> list[str]:
    """At least one, at most MAX_CHECK_NAMES, each as typed (the registries' rules judge them)."""
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise CommandError("`check` needs a name, e.g. `check kafkify`.")
    if len(names) > MAX_CHECK_NAMES:
        raise CommandError(f"I check at most {MAX_CHECK_NAMES} names at a time, not {len(names)}.")
    return names


def _text(text: str) -> str:
    if not text.strip():
        raise CommandError("Give me a name or some text, e.g. snorlax or 'Det här är svenska'.")
    if len(text) > MAX_TEXT_LEN:
        raise CommandError(f"That is {len(text):,} characters; I read at most {MAX_TEXT_LEN:,}.")
    return text


QUEUED = {"queued": True}  # the validation context of what RQ hands back: checked where it was made


def _checked(check: Callable) -> AfterValidator:
    """``check`` as a field's validator, except on what RQ hands back (``QUEUED``): a worker answers
    the request as the edge accepted it, and what the worker finds wrong it answers as a user error."""

    def validate(value, info: ValidationInfo):
        return value if (info.context or {}).get("queued") else check(value)

    return AfterValidator(validate)


Count = Annotated[int, _checked(_n)]
Corpus = Annotated[str, _checked(_corpus)]
ModelName = Annotated[str | None, _checked(_model)]
Pattern = Annotated[str, _checked(_pattern)]
LikeName = Annotated[str, _checked(_like_name)]
Names = Annotated[list[str], _checked(_names)]
Text = Annotated[str, _checked(_text)]
Seed = Annotated[int | None, Field(ge=0, le=SEED_MAX)]


def first_problem(err: ValidationError, order: Sequence[str] = ()) -> TNaaSError:
    """What a surface tells the user about a request that failed its checks: the first problem in the
    surface's ``order`` of fields (the order it reads them in; the contract's otherwise), as the
    friendly error the check raised, or in pydantic's words (``seed: Input should be ...``)."""
    rank = {field: i for i, field in enumerate(order)}
    first = min(err.errors(), key=lambda e: rank.get(e["loc"][0] if e["loc"] else "", len(rank)))
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, TNaaSError):
        return raised
    where = ".".join(str(part) for part in first["loc"])
    return CommandError(f"{where}: {first['msg']}" if where else first["msg"])


def _default_n() -> int:
    return get_settings().default_n


class _Sized(BaseModel):
    n: Count = Field(default_factory=_default_n)


class GenerateRequest(_Sized):
    kind: Literal["generate"] = "generate"
    corpus: Corpus
    model: ModelName = None
    seed: Seed = None
    include_known: bool = False
    rerank: bool = True  # sample a pool, show the best n (judge + reranker) with some exploration
    free: bool = False  # only names free on the corpus' registry (PyPI for pypi, npm for npm, both otherwise)


class CompleteRequest(_Sized):
    kind: Literal["complete"] = "complete"
    pattern: Pattern
    corpus: Corpus
    model: ModelName = None
    seed: Seed = None


class LikeRequest(_Sized):
    """Names a few edits from ``name`` (``like kafka pypi``), ranked as generation ranks."""

    kind: Literal["like"] = "like"
    name: LikeName
    corpus: Corpus
    model: ModelName = None
    seed: Seed = None
    free: bool = False


class CheckRequest(BaseModel):
    """Is each name free on PyPI and npm (``check kafkify``)?"""

    kind: Literal["check"] = "check"
    names: Names


class DetectRequest(BaseModel):
    kind: Literal["detect"] = "detect"
    text: Text


Request = Annotated[
    GenerateRequest | CompleteRequest | LikeRequest | CheckRequest | DetectRequest, Field(discriminator="kind")
]
AnyRequest = GenerateRequest | CompleteRequest | LikeRequest | CheckRequest | DetectRequest
_REQUEST = TypeAdapter(Request)


def request_from(payload: dict) -> AnyRequest:
    """A request RQ stored (``model_dump``) as the typed request it was."""
    return _REQUEST.validate_python(payload, context=QUEUED)


class MarkOut(BaseModel):
    """A name on one registry: free, taken, not allowed (by its rules), not registered (free as far as the
    registry says, its "too similar" rule unchecked without a snapshot) or unknown, and why."""

    verdict: Literal["free", "taken", "not allowed", "not registered", "unknown"]
    reason: str = ""
    source: str = ""  # rules | snapshot | live | cache | none


class CandidateOut(BaseModel):
    name: str
    log_prob: float
    known: bool
    believability: float | None  # P(corpus | name) from the judge
    real: float | None = None  # P(real name) from the model's adversarial judge (models.believability)
    judge: dict[str, float] = {}  # P(c | name) for every corpus c
    nll: dict[str, float | None] = {}  # nats per character under every model of the corpus (None: impossible)
    score: float | None = None  # what the ranking used: P(up-vote) from the reranker, else believability
    explore: bool = False  # shown at random from the pool rather than for its score
    availability: dict[str, MarkOut] = {}  # registry -> mark, for the shown names
    edits: int | None = None  # `like`: edits from the name asked about


class NamesReply(BaseModel):
    kind: Literal["names"] = "names"
    corpus: str
    model: str
    model_version: str
    model_chosen_by: Literal["request", "bandit", "default"] = "request"
    ranked_by: str = "likelihood"  # "reranker <version>", "believability <version>", "judge" or "likelihood"
    pattern: str | None = None
    like: str | None = None  # `like`: the name the candidates are near
    free: bool = False  # only names free on the corpus' registry were kept
    note: str | None = None  # something the user should know about this answer (e.g. fewer free names than asked)
    candidates: list[CandidateOut]


class NameMarks(BaseModel):
    name: str
    availability: dict[str, MarkOut]


class CheckReply(BaseModel):
    kind: Literal["check"] = "check"
    names: list[NameMarks]


class Score(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # the models answer with plain objects (models.sounds_like)

    label: str
    name: str
    probability: float


class SoundsLike(BaseModel):
    """What a name or a text sounds like (``is snorlax``, ``lang <text>``)."""

    model_config = ConfigDict(from_attributes=True)

    text: str
    is_name: bool  # a single name-like token: corpus scores apply
    verdict: Score | None = None  # "Pokemon or tech?" first: pokemon or tech, for even odds
    real_in: list[str] = []  # corpora that contain this name (case and separators ignored)
    corpora: list[Score] = []
    language: str = "unknown"  # best language, or "unknown" when the evidence is weak
    languages: list[Score] = []
    notes: list[str] = []


def percentages(scores: list[Score]) -> str:
    """``pokemon 43%, pypi 13%``: how every surface lists scores."""
    return ", ".join(f"{s.name} {s.probability:.0%}" for s in scores)


class DetectReply(BaseModel):
    kind: Literal["detect"] = "detect"
    answer: SoundsLike


class UserError(BaseModel):
    """Bad input a user can fix: returned as a result, never retried."""

    kind: Literal["error"] = "error"
    error: str


class TooLate(BaseModel):
    """The request waited longer than TNAAS_QUEUE_TTL for a worker: answered "busy", not run late."""

    kind: Literal["busy"] = "busy"
    error: str


Reply = Annotated[NamesReply | CheckReply | DetectReply | UserError | TooLate, Field(discriminator="kind")]
_REPLY = TypeAdapter(Reply)


def reply_from(result: dict) -> NamesReply | CheckReply | DetectReply | UserError | TooLate:
    """A job's stored return value as the typed reply it was."""
    return _REPLY.validate_python(result)


class ReplyTo(BaseModel):
    """Where a Slack answer goes, and with whose token."""

    kind: Literal["slash", "mention", "dm"]
    channel: str
    user: str
    thread_ts: str | None = None  # the mention to answer in; None for a slash command or a direct message
    team: str | None = None  # the workspace: its installation's token posts the answer
    enterprise: str | None = None
    response_url: str | None = None  # a slash command's: posts without membership, and without a token


class SlackJob(BaseModel):
    request: Request
    reply: ReplyTo
    id: str | None = None  # the reply's own id (its recorded steps; ``store.replies``); None: its RQ job's
    queued_at: datetime | None = None  # when it was queued (a request may join a batch queued earlier)


class SlackBatch(BaseModel):
    """The payload of a job answering Slack requests together (``store.slack_batches``)."""

    batch: str


class HomeJob(BaseModel):
    """Publish the App Home tab for one person (when they open it)."""

    team: str | None
    user: str
    enterprise: str | None = None


class WebJob(BaseModel):
    request: Request
    client: str  # who asked (the page's voter id, else the address): impressions' requested_by
    caller: str | None = None  # whose registry budget its look-ups spend: the address (a client id is self-chosen)


class WebItem(WebJob):
    answer_id: str  # what the caller polls and votes on; its impressions are recorded under it


class WebBatch(BaseModel):
    """API requests the web process sent together in one job: each answered on its own."""

    items: list[WebItem] = Field(min_length=1)
