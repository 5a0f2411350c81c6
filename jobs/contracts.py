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
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, ValidationInfo

from core.errors import CommandError, TNaaSError, UnknownCorpus
from core.examples import example_of
from core.limits import HEAVY_WILDCARDS, MAX_CHECK_NAMES, MAX_NAME_LEN, MAX_PATTERN_LEN, MAX_TEXT_LEN, SEED_MAX
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


def _corpus(name: str, own: Sequence[str] = ()) -> str:
    """A built-in corpus, or one of ``own``: the team corpora the asker may use (the surface looked them
    up); anyone else's answers as an unknown corpus."""
    name = name.strip().lower()
    if name not in corpus_names() and name not in own:
        raise UnknownCorpus(name, [*corpus_names(), *own])
    return name


OWN_CORPORA = "own_corpora"  # the validation context's key: the team corpora a request may name


def _corpus_checked(value: str, info: ValidationInfo) -> str:
    context = info.context or {}
    return value if context.get("queued") else _corpus(value, context.get(OWN_CORPORA, ()))


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
        raise CommandError(f"Patterns can be at most {MAX_PATTERN_LEN} characters long; that one has {len(pattern)}.")
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
Corpus = Annotated[str, AfterValidator(_corpus_checked)]
# A team corpus' owner (``store.team_corpora.owner_key``), set by the surface that resolved the corpus for
# its asker, never by the asker: None for a built-in corpus.
Owner = Annotated[str | None, Field(None, description="the owner of a team's own corpus; set by the surface")]
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

    @property
    def heavy(self) -> bool:
        """May take a worker seconds (a pomegranate model): queued in the heavy lane (``jobs.queueing``)."""
        return (getattr(self, "model", None) or "").startswith("bayes")


class GenerateRequest(_Sized):
    kind: Literal["generate"] = "generate"
    corpus: Corpus
    owner: Owner = None
    model: ModelName = None
    seed: Seed = None
    include_known: bool = False
    rerank: bool = True  # sample a pool, show the best n (judge + reranker) with some exploration
    free: bool = False  # only names free on the corpus' registry (PyPI for pypi, npm for npm, both otherwise)


class CompleteRequest(_Sized):
    kind: Literal["complete"] = "complete"
    pattern: Pattern
    corpus: Corpus
    owner: Owner = None
    model: ModelName = None
    seed: Seed = None
    free: bool = False  # only completions free on the corpus' registry, likeliest first

    @property
    def heavy(self) -> bool:
        """Many unknown letters (or a pomegranate model) may take a worker a second or more."""
        return super().heavy or self.pattern.count(WILDCARD) >= HEAVY_WILDCARDS


class LikeRequest(_Sized):
    """Names a few edits from ``name`` (``like kafka pypi``), ranked as generation ranks."""

    kind: Literal["like"] = "like"
    name: LikeName
    corpus: Corpus
    owner: Owner = None
    model: ModelName = None
    seed: Seed = None
    free: bool = False


class CheckRequest(BaseModel):
    """Is each name free on PyPI and npm (``check kafkify``)?"""

    kind: Literal["check"] = "check"
    names: Names
    heavy: ClassVar[bool] = False  # the registries' time is bounded on its own (availability)


class DetectRequest(BaseModel):
    kind: Literal["detect"] = "detect"
    text: Text
    # the asker's team corpora ({slug: owner}), set by the surface: `is NAME` says which of them hold it
    team_corpora: dict[str, str] = {}
    heavy: ClassVar[bool] = False


Request = Annotated[
    GenerateRequest | CompleteRequest | LikeRequest | CheckRequest | DetectRequest, Field(discriminator="kind")
]
AnyRequest = GenerateRequest | CompleteRequest | LikeRequest | CheckRequest | DetectRequest
_REQUEST = TypeAdapter(Request)


def request_from(payload: dict) -> AnyRequest:
    """A request RQ stored (``model_dump``) as the typed request it was."""
    return _REQUEST.validate_python(payload, context=QUEUED)


# The replies are also what the API answers: each field says what it means, with an example, for
# the OpenAPI document (``core.examples``).
class MarkOut(BaseModel):
    """A name on one registry: free, taken, not allowed (by its rules), not registered (free as far as the
    registry says, its "too similar" rule unchecked without a snapshot) or unknown, and why."""

    verdict: Literal["free", "taken", "not allowed", "not registered", "unknown"] = Field(
        description="free to publish, taken, not allowed by the registry's naming rules, not registered (the "
        "registry has no such name; its 'too similar' rule was not checked without a snapshot), or unknown "
        "(the registry did not answer)",
        examples=["free"],
    )
    reason: str = Field("", description="why, in words (empty when the verdict says it all)", examples=[""])
    source: str = Field(
        "",
        description="where the verdict comes from: rules, snapshot (the registry's list of names), live "
        "(asked the registry now), cache (asked recently) or none",
        examples=["snapshot"],
    )


class CandidateOut(BaseModel):
    """One name of an answer, with the scores that placed it."""

    name: str = Field(description="the name, lower case", examples=["scoros"])
    log_prob: float = Field(
        description="natural log of the model's probability of the name, its end included", examples=[-14.2047]
    )
    known: bool = Field(description="the name is already in the corpus (shown only when asked for)", examples=[False])
    believability: float | None = Field(
        description="P(corpus | name) from the judge: how much it sounds like the corpus asked for, 0 to 1",
        examples=[0.6379],
    )
    real: float | None = Field(
        None,
        description="P(real name) from the model's adversarial judge, trained to tell the corpus' names from "
        "the model's samples; null when the model has none",
        examples=[0.5408],
    )
    judge: dict[str, float] = Field(
        {},
        description="P(corpus | name) for every corpus the judge knows",
        examples=[{"pokemon": 0.6379, "pypi": 0.1332, "cats": 0.0129}],
    )
    nll: dict[str, float | None] = Field(
        {},
        description="nats per character under each model of the corpus (lower: more typical); null: that model "
        "cannot make the name",
        examples=[{"kn3": 2.0292, "markov2": 1.9196}],
    )
    score: float | None = Field(
        None,
        description="what the ranking used: P(up-vote) from the reranker once there are votes, else P(real)",
        examples=[0.5408],
    )
    explore: bool = Field(
        False,
        description="shown at random from the pool rather than for its score (to learn from votes)",
        examples=[False],
    )
    availability: dict[str, MarkOut] = Field(
        {},
        description="registry (pypi, npm) -> whether the name is free there; filled for the shown names",
        examples=[{"pypi": example_of(MarkOut)}],
    )
    edits: int | None = Field(
        None, description="`like` only: edits (letters changed) from the name asked about", examples=[2]
    )


class NamesReply(BaseModel):
    """New names, completions of a pattern, or names like a given one."""

    kind: Literal["names"] = Field("names", description="what kind of reply this is", examples=["names"])
    corpus: str = Field(description="the corpus the names are in the style of", examples=["pokemon"])
    model: str = Field(description="the name model that made them", examples=["kn3"])
    model_version: str = Field(
        description="that model's artifact version (training data hash)", examples=["af94775a4f98"]
    )
    model_chosen_by: Literal["request", "bandit", "default"] = Field(
        "request",
        description="who chose the model: the request; the bandit, once the corpus has votes (the page says "
        '"picked by votes"); or the default, the corpus\' best model by the believability benchmark, until then',
        examples=["default"],
    )
    ranked_by: str = Field(
        "likelihood",
        description='what ordered the names: "reranker <version>", "believability <version>", "judge" or "likelihood"',
        examples=["believability 11e380a166c3"],
    )
    pattern: str | None = Field(None, description="completions: the pattern, normalised", examples=["*u*a"])
    like: str | None = Field(None, description="`like`: the name the candidates are near", examples=["pikachu"])
    free: bool = Field(False, description="only names free on the corpus' registry were kept", examples=[False])
    note: str | None = Field(
        None,
        description="something the user should know about this answer, e.g. fewer free names than asked",
        examples=[
            "Only 3 of the 5 names are confirmed free on PyPI: the rest were taken, not allowed, "
            "or the registry could not confirm them in time."
        ],
    )
    candidates: list[CandidateOut] = Field(description="the names, best first", examples=[[example_of(CandidateOut)]])


class NameMarks(BaseModel):
    name: str = Field(description="the name as asked about", examples=["kafkify"])
    availability: dict[str, MarkOut] = Field(
        description="registry (pypi, npm) -> whether the name is free there",
        examples=[{"pypi": example_of(MarkOut), "npm": example_of(MarkOut)}],
    )


class CheckReply(BaseModel):
    """Whether names are free on PyPI and npm."""

    kind: Literal["check"] = Field("check", description="what kind of reply this is", examples=["check"])
    names: list[NameMarks] = Field(description="each name asked about, in order", examples=[[example_of(NameMarks)]])


class Score(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # the models answer with plain objects (models.sounds_like)

    label: str = Field(description="the class's identifier (a corpus, a language code)", examples=["pokemon"])
    name: str = Field(description="the class in words, for people", examples=["Pokemon"])
    probability: float = Field(description="the classifier's probability, 0 to 1", examples=[0.72])


class SoundsLike(BaseModel):
    """What a name or a text sounds like (``is snorlax``, ``lang <text>``)."""

    model_config = ConfigDict(from_attributes=True)

    text: str = Field(description="the text asked about, as sent", examples=["snorlax"])
    is_name: bool = Field(description="a single name-like token: the corpus scores apply", examples=[True])
    verdict: Score | None = Field(
        None,
        description='"Pokemon or tech?": pokemon or tech, for even odds (names only)',
        examples=[example_of(Score)],
    )
    real_in: list[str] = Field(
        [], description="corpora that contain this name (case and separators ignored)", examples=[["pokemon"]]
    )
    corpora: list[Score] = Field(
        [], description="what it sounds like: corpora, most likely first", examples=[[example_of(Score)]]
    )
    language: str = Field(
        "unknown", description='the most likely language, or "unknown" when the evidence is weak', examples=["sv"]
    )
    languages: list[Score] = Field(
        [],
        description="languages, most likely first",
        examples=[[{"label": "sv", "name": "Swedish", "probability": 0.93}]],
    )
    notes: list[str] = Field(
        [], description="anything else worth saying about the answer", examples=[["Too short to tell a language."]]
    )


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
    view: str | None = None  # a modal showing "Working on it…" (its view id): updated once the answer is posted


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


class StepJob(BaseModel):
    """A Workflow Builder step "Suggest names" to run and complete (``functions.completeSuccess`` or
    ``completeError``): its inputs as the workflow gave them, checked by the worker, which tells the
    workflow what is wrong with them."""

    execution: str  # Slack's function_execution_id
    team: str | None
    enterprise: str | None = None
    inputs: dict = {}


class WebJob(BaseModel):
    request: Request
    client: str  # who asked, named by the surface (the API: "client:NAME"): impressions' requested_by
    caller: str | None = Field(
        None,
        description="whose registry budget its look-ups spend: the address (a client id is self-chosen)",
        examples=["web:127.0.0.1"],
    )


class WebItem(WebJob):
    answer_id: str  # what the caller polls and votes on; its impressions are recorded under it


class WebBatch(BaseModel):
    """API requests the web process sent together in one job: each answered on its own."""

    items: list[WebItem] = Field(min_length=1)


class CorpusJob(BaseModel):
    """Train a team's own corpus: its list is in ``store.team_corpora`` under its owner and slug."""

    owner: str
    corpus: str


class CorpusReport(BaseModel):
    """What training a team's own corpus made of the list: what the API's poll and the CLI show."""

    names: int = Field(description="distinct names kept and trained on", examples=[412])
    dropped: dict[str, int] = Field(
        {}, description="names dropped, by reason (duplicates, too long, emoji...)", examples=[{"duplicates": 3}]
    )
    notes: list[str] = Field(
        [],
        description="how the upload was read (a CSV's first column, a header row...)",
        examples=[["read as a table (comma-separated): its first column is the names, the others are ignored"]],
    )
    model: str = Field(description="the name model chosen for a list of this size", examples=["kn3"])
    heldout_nll: float | None = Field(
        None,
        description="nats per character on names held out of a fit on the rest (lower: the model predicts the "
        "list better); null when no held-out name could be scored",
        examples=[2.31],
    )
    examples: list[str] = Field([], description="five names it makes", examples=[["thrudgar", "eldrun"]])
    reservoir: int = Field(0, description="believable new names kept ready to serve", examples=[1800])
    seconds: float = Field(0.0, description="training time on the worker", examples=[2.4])
    warning: str | None = Field(None, description="something to know, e.g. that the list is small", examples=[None])
