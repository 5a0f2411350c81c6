"""One request pipeline behind every surface: a typed request in, a typed reply out.

Slack, the API and the command line all answer through ``answer``, so the same request gets the same
defaults, the same bandit and the same ranking wherever it is asked. Dependencies come in as
arguments: the loaded models, the bandit's vote counts (None where there is no stack to ask), the
settings. Bad input a user can fix comes back as a ``UserError`` reply, never as an exception.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from availability.marks import USABLE, Mark, Verdict
from availability.rules import LABELS, REGISTRIES
from core.errors import ModelUnavailable, StillTraining, TNaaSError
from core.limits import RESERVOIR_NAMES_PER_N
from core.pattern import normalise_pattern
from core.settings import Settings
from corpora import corpus_names
from jobs.contracts import (
    AnyRequest,
    CandidateOut,
    CheckReply,
    CheckRequest,
    CompleteRequest,
    DetectReply,
    DetectRequest,
    GenerateRequest,
    LikeRequest,
    MarkOut,
    NameMarks,
    NamesReply,
    UserError,
)
from jobs.team_models import TeamModels
from models.bandit import choose_model, competing
from models.catalog import default_model_for
from models.like import like as names_like
from models.name_model import Candidate
from models.ranking import candidate_rows, choose_shown, pool_scores
from models.registry import ModelRegistry
from models.sounds_like import sounds_like
from store.arms import ArmCounts
from store.team_corpora import corpus_id
from store.votes import Impression

MAX_FREE_ROUNDS = 3  # live checks of replacements when shown names turn out taken: bounded
if TYPE_CHECKING:  # the checker brings an HTTP client and Redis: a command line that checks nothing skips them
    from availability.checker import AvailabilityChecker, RequestChecks

    Checks = AvailabilityChecker | RequestChecks  # the checker, or one request's view of it (its allowance)
log = logging.getLogger(__name__)


def answer(
    request: AnyRequest,
    models: ModelRegistry,
    arms: ArmCounts | None,
    settings: Settings,
    availability: Checks | None = None,
    caller: str | None = None,
    team: TeamModels | None = None,
) -> NamesReply | CheckReply | DetectReply | UserError:
    """``availability`` (None: no marks, and `free` / `check` say they cannot be answered here); its
    registry calls spend one allowance for the request and ``caller``'s budget (a Slack user, an address).
    ``team``: the worker's team corpora (None: a request naming one is told they are not served here)."""
    if hasattr(availability, "for_request"):  # the checker itself: this request's view of it
        availability = availability.for_request(caller)
    try:
        if getattr(request, "owner", None) is not None:
            return team_answer(request, team, settings, availability)
        if isinstance(request, GenerateRequest):
            return generate(request, models, arms, settings, availability)
        if isinstance(request, CompleteRequest):
            return complete(request, models, arms, settings, availability)
        if isinstance(request, LikeRequest):
            return like(request, models, arms, settings, availability)
        if isinstance(request, CheckRequest):
            return check(request, _needed(availability))
        return detect(request, models, team)
    except TNaaSError as err:
        return UserError(error=str(err))


def answer_many(
    requests: list[AnyRequest],
    models: ModelRegistry,
    arms: ArmCounts | None,
    settings: Settings,
    availability: AvailabilityChecker | None = None,
    callers: list[str | None] | None = None,
    team: TeamModels | None = None,
) -> list[NamesReply | CheckReply | DetectReply | UserError]:
    """``answer`` for each request (a batch from the web process), with the registry marks of every
    shown name asked in one ``availability.check_many``: one round of live look-ups (and one canary)
    for the batch instead of one per request, each request spending its own allowance and its caller's
    budget. Each reply is the one ``answer`` alone would give."""
    callers = callers or [None] * len(requests)
    marked_later = [availability is not None and _marks_only(r) for r in requests]
    replies = [
        answer(r, models, arms, settings, None if later else availability, caller, team)
        for r, later, caller in zip(requests, marked_later, callers)
    ]
    named = [
        (rep, caller)
        for rep, later, caller in zip(replies, marked_later, callers)
        if later and isinstance(rep, NamesReply) and rep.candidates
    ]
    if named:
        asks = [([c.name for c in rep.candidates], availability.allowance(caller)) for rep, caller in named]
        for (rep, _), marks in zip(named, availability.check_many(asks, REGISTRIES)):
            for candidate, m in zip(rep.candidates, marks):
                candidate.availability = {r: _mark_out(mark) for r, mark in m.items()}
    return replies


def _marks_only(request: AnyRequest) -> bool:
    """Requests whose only use of the registries is marking the names shown (not ``free``, not ``check``)."""
    return isinstance(request, GenerateRequest | CompleteRequest | LikeRequest) and not getattr(request, "free", False)


def available(models: ModelRegistry, corpus: str, model: str) -> str:
    """``model`` if it is trained for ``corpus`` here; else an error a user can act on (the models that
    are), never the operator's path and "run tnaas train"."""
    if not models.is_trained(corpus, model):
        if (seconds := models.ready_in(corpus, model)) is not None:
            raise StillTraining(f"The model {model} for {corpus}", seconds, models.trained_names(corpus))
        raise ModelUnavailable(model, corpus, models.trained_names(corpus))
    return model


def pick_model(
    request: GenerateRequest | CompleteRequest | LikeRequest,
    arm_models: list[str],
    models: ModelRegistry,
    arms: ArmCounts | None,
    settings: Settings,
    rng: np.random.Generator,
) -> tuple[str, str]:
    """(model, chosen by) for a request of any kind: the one it names, else the bandit once the corpus
    has votes, else the corpus' default; the same on every surface (``arms`` None: the default)."""
    evidence = arms.evidence(request.corpus) if arms is not None and not request.model else None
    default = default_model(request.corpus, models, settings)
    return choose_model(request.model, arm_models, evidence, bandit_stream(rng), default)


def bandit_stream(rng: np.random.Generator) -> np.random.Generator:
    """The bandit's own random stream, spawned from the request's: what it draws leaves ``rng`` as it was,
    so a seed gives the same names whether the model was picked by votes or named (the page's link to
    an answer names the model that made it, with the seed)."""
    return rng.spawn(1)[0]


def generate(
    request: GenerateRequest,
    models: ModelRegistry,
    arms: ArmCounts | None,
    settings: Settings,
    availability: Checks | None = None,
) -> NamesReply:
    """New names, ranked. Until the reranker exists, n names drawn from the model's believable
    reservoir (models.believability) are the ranking; then the reranker orders a pool drawn from it,
    P(real) one of its features. ``free`` draws a pool, best first by P(real), to replace taken names."""
    rng = np.random.default_rng(request.seed)
    arm_models = competing(models.answering_models(request.corpus))
    model_name, chosen_by = pick_model(request, arm_models, models, arms, settings, rng)
    model, info = models.get(request.corpus, available(models, request.corpus, model_name))
    pool = max(request.n, settings.rerank_pool) if request.rerank or request.free else request.n
    real = features = reranked = None
    if request.rerank and not request.include_known and serves_reservoir(models, request.corpus, model_name, settings):
        reservoir = models.reservoir(request.corpus, model_name)
        cold = models.optional_estimator("reranker") is None and not request.free
        start = time.perf_counter()
        picked = reservoir.draw(request.n if cold else pool, rng)
        if (column := models.reranked_scores(request.corpus, model_name, tuple(arm_models))) is not None:
            reranked = column[picked]  # the deployed reranker's P(up-vote), scored once per version
        log.debug("reservoir draw of %d names in %.3f ms", len(picked), 1000 * (time.perf_counter() - start))
        found = [Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False) for i in picked]
        real = (reservoir.scores[picked], f"believability {reservoir.info.version}")
        features = (models.pool_features(request.corpus, model_name, tuple(arm_models)), picked)
    else:  # the plain model: include_known, rerank off, or a model trained before reservoirs existed
        found = model.generate(pool, rng, include_known=request.include_known)
    reply = NamesReply(
        corpus=request.corpus,
        model=model_name,
        model_version=info.version,
        model_chosen_by=chosen_by,
        free=request.free,
        candidates=[],
    )
    return _ranked(reply, found, request, models, arm_models, settings, availability, rng, real, features, reranked)


def warm(models: ModelRegistry, settings: Settings) -> None:
    """Score each corpus' default reservoir ahead of the requests (a worker runs this in a thread
    after loading), so the first request of a corpus does not pay the second it takes."""
    for corpus in corpus_names():
        try:
            model = default_model(corpus, models, settings)
            arm_models = competing(models.answering_models(corpus))
        except TNaaSError:  # a corpus with no models trained here
            continue
        if model in arm_models and serves_reservoir(models, corpus, model, settings):
            models.pool_features(corpus, model, tuple(arm_models))
            models.reranked_scores(corpus, model, tuple(arm_models))  # None while there is no reranker


def serves_reservoir(models: ModelRegistry, corpus: str, model: str, settings: Settings) -> bool:
    """(corpus, model) has a believable reservoir with room for variety: at least RESERVOIR_NAMES_PER_N
    names per name a request may ask for. A smaller one is not served (its model samples instead), and
    the operator is told once per process."""
    if not models.has_reservoir(corpus, model):
        return False
    size, least = len(models.reservoir(corpus, model)), RESERVOIR_NAMES_PER_N * settings.max_n
    if size < least:
        _say_reservoir_too_small(corpus, model, size, least)
    return size >= least


@functools.cache
def _say_reservoir_too_small(corpus: str, model: str, size: int, least: int) -> None:
    log.warning(
        "the %s/%s reservoir holds %d names, fewer than the %d that give each request variety: "
        "%s names are sampled by the model instead",
        corpus,
        model,
        size,
        least,
        corpus,
    )


def default_model(corpus: str, models: ModelRegistry, settings: Settings) -> str:
    """TNAAS_DEFAULT_MODEL when the operator set it; else the first trained of: the believability
    benchmark's choice for the corpus (models/default_models.json), the setting's default, the catalog's
    order. A user who named no model is never told that one they did not ask for is missing."""
    if "default_model" in settings.model_fields_set:
        return settings.default_model
    trained = models.answering_models(corpus)
    preferred = [default_model_for(corpus, settings.default_model), settings.default_model, *trained]
    return next((m for m in preferred if m in trained), settings.default_model)


def like(
    request: LikeRequest,
    models: ModelRegistry,
    arms: ArmCounts | None,
    settings: Settings,
    availability: Checks | None = None,
) -> NamesReply:
    """A pool of names one to three edits from the one asked about, ranked as generation ranks."""
    rng = np.random.default_rng(request.seed)
    arm_models = competing(models.answering_models(request.corpus))
    model_name, chosen_by = pick_model(request, arm_models, models, arms, settings, rng)
    model, info = models.get(request.corpus, available(models, request.corpus, model_name))
    found = names_like(model, request.name, max(request.n, settings.rerank_pool), rng)
    if not found:
        raise TNaaSError(
            f"I found no believable {request.corpus} names near '{request.name}'. Try another corpus or model."
        )
    reply = NamesReply(
        corpus=request.corpus,
        model=model_name,
        model_version=info.version,
        model_chosen_by=chosen_by,
        like=request.name,
        free=request.free,
        candidates=[],
    )
    return _ranked(reply, found, request, models, arm_models, settings, availability, rng)


def _ranked(
    reply, found, request, models, arm_models, settings, availability, rng, real=None, features=None, reranked=None
) -> NamesReply:
    """Score the pool (reranker, ``reranked`` when its scores were looked up; else P(real) for names from
    a reservoir, ``real`` = (scores, ranked by); else the judge), show the best n with some exploration,
    with their marks; with ``free``, only names the corpus' registry does not have (free, or not
    registered where no snapshot lets its "too similar" rule be checked), replacements checked in rounds."""
    rows = candidate_rows(
        found,
        request.corpus,
        reply.model,
        models.estimator("judge") if features is None else None,  # stored columns need no judge loaded
        scorers={m: models.model(request.corpus, m) for m in arm_models},
        real=real[0] if real is not None else None,
        features=features,
    )
    edits = {c.name: getattr(c, "edits", None) for c in found}
    if request.free:
        registries = registries_for(request.corpus)
        keep = np.ones(len(rows), dtype=bool)
        for registry in registries:
            keep &= _needed(availability).possibly_free([r["name"] for r in rows], registry)
        rows = [r for r, k in zip(rows, keep) if k]
        reranked = reranked[keep] if reranked is not None else None
    rerank = getattr(request, "rerank", True)
    reranker = models.optional_estimator("reranker") if rerank else None
    if reranker is not None and reranked is not None:
        scores = reranked
    elif reranker is None and real is not None:
        scores = np.array([r["real"] for r in rows])
    else:
        scores = pool_scores(rows, reranker) if rows else np.zeros(0)
    if rerank:
        if reranker is not None:
            reply.ranked_by = f"reranker {models.estimator_info('reranker').version}"
        else:
            reply.ranked_by = real[1] if real is not None else "judge"
        picks = choose_shown(scores, request.n, settings.explore, rng)
    else:
        picks = [(i, False) for i in range(min(request.n, len(rows)))]
    if request.free:
        picks, marks, reply.note = _confirmed_free(
            picks, scores, rows, request.n, registries_for(request.corpus), availability
        )
    else:
        marks = _marks(availability, [rows[i]["name"] for i, _ in picks])
    reply.candidates = [
        CandidateOut.model_validate(
            rows[i]
            | {"explore": explored, "availability": m, "edits": edits.get(rows[i]["name"])}
            | ({"score": round(float(scores[i]), 4)} if rerank else {})
        )
        for (i, explored), m in zip(picks, marks)
    ]
    return reply


def registries_for(corpus: str) -> tuple[str, ...]:
    """The registry a corpus' names are published to: PyPI for pypi, npm for npm, both for the others."""
    return (corpus,) if corpus in REGISTRIES else REGISTRIES


def _needed(availability: Checks | None) -> Checks:
    if availability is None:
        raise TNaaSError("Availability checks are not set up here, so I cannot tell which names are free.")
    return availability


def _marks(availability: Checks | None, names: list[str]) -> list[dict[str, MarkOut]]:
    if availability is None or not names:
        return [{} for _ in names]
    return [{r: _mark_out(m) for r, m in marks.items()} for marks in availability.check(names, REGISTRIES)]


def _mark_out(mark: Mark) -> MarkOut:
    return MarkOut(verdict=mark.verdict.value, reason=mark.reason, source=mark.source)


def _confirmed_free(picks, scores, rows, n: int, registries, availability) -> tuple[list, list, str | None]:
    """The picks no registry has (free, or not registered), topped up with the next best in at most
    MAX_FREE_ROUNDS rounds, and a note on what was not found or not checked. A name a registry did not
    answer for ("unknown") is never kept, and ends the rounds: replacements would meet the same registry
    (and the request's deadline and registry calls are shared by its rounds)."""
    picked = {i for i, _ in picks}
    reserve = [int(i) for i in np.argsort(-scores, kind="stable") if int(i) not in picked]
    kept, marks, dropped = [], [], []
    for _ in range(MAX_FREE_ROUNDS):
        checked = _marks(_needed(availability), [rows[i]["name"] for i, _ in picks])
        for pick, m in zip(picks, checked):
            if all(Verdict(m[r].verdict) in USABLE for r in registries):
                kept.append(pick)
                marks.append(m)
            else:
                dropped.append(m)
        short = n - len(kept)
        unanswered = any(m[r].verdict == Verdict.UNKNOWN for m in checked for r in registries)
        if short <= 0 or not reserve or unanswered:
            break
        picks, reserve = [(i, False) for i in reserve[:short]], reserve[short:]
    return kept[:n], marks[:n], _free_note(len(kept[:n]), n, registries, marks[:n], dropped)


def _free_note(found: int, n: int, registries: tuple[str, ...], kept: list, dropped: list) -> str | None:
    """What a `free` answer did not find, and what it could not check, in a sentence or two."""
    parts = []
    if found < n:
        where = " and ".join(LABELS[r] for r in registries)
        refused = sum(1 for m in dropped if any(m[r].verdict in (Verdict.TAKEN, Verdict.REFUSED) for r in registries))
        unknown = [m[r] for m in dropped for r in registries if m[r].verdict == Verdict.UNKNOWN]
        unanswered = sum(1 for m in dropped if any(m[r].verdict == Verdict.UNKNOWN for r in registries))
        why = [f"{refused} checked were taken or not allowed"] if refused else []
        if unknown:
            why.append(f"{unanswered} could not be checked ({unknown[0].reason})")
        parts.append(
            f"Only {found} of the {n} names are free on {where}" + (": " + "; ".join(why) if why else "") + "."
        )
    unchecked = [r for r in registries if any(m[r].verdict == Verdict.NOT_REGISTERED for m in kept)]
    if unchecked:
        parts.append(
            " ".join(
                f"{LABELS[r]}'s 'too similar' rule was not checked for names it has not registered "
                f"(no snapshot of every {LABELS[r]} name yet: `tnaas availability refresh {r}`)."
                for r in unchecked
            )
        )
    return " ".join(parts) or None


def check(request: CheckRequest, availability: Checks) -> CheckReply:
    marks = availability.check(request.names, REGISTRIES)
    return CheckReply(
        names=[
            NameMarks(name=name, availability={r: _mark_out(m) for r, m in per.items()})
            for name, per in zip(request.names, marks)
        ]
    )


def complete(
    request: CompleteRequest,
    models: ModelRegistry,
    arms: ArmCounts | None,
    settings: Settings,
    availability: Checks | None = None,
) -> NamesReply:
    """Completions keep likelihood order: the pattern already says what the user wants. The model is
    chosen as for generation: the same request on the same corpus gets the same model. ``free``: the
    likeliest completions the corpus' registry does not have, from a pool of ``rerank_pool``."""
    arm_models = competing(models.answering_models(request.corpus))
    model_name, chosen_by = pick_model(request, arm_models, models, arms, settings, np.random.default_rng(request.seed))
    model, info = models.get(request.corpus, available(models, request.corpus, model_name))
    pool = max(request.n, settings.rerank_pool) if request.free else request.n
    found = model.complete(request.pattern, pool, np.random.default_rng(request.seed), budget=settings.complete_budget)
    rows = candidate_rows(
        found,
        request.corpus,
        model_name,
        models.estimator("judge"),
        pattern=request.pattern,
        scorers={m: models.model(request.corpus, m) for m in arm_models},
    )
    reply = NamesReply(
        corpus=request.corpus,
        model=model_name,
        model_version=info.version,
        model_chosen_by=chosen_by,
        pattern=request.pattern,
        free=request.free,
        candidates=[],
    )
    picks, marks = _likeliest_free(reply, rows, request, availability)
    reply.candidates = [CandidateOut.model_validate(rows[i] | {"availability": m}) for (i, _), m in zip(picks, marks)]
    return reply


def _likeliest_free(reply: NamesReply, rows: list[dict], request, availability: Checks | None) -> tuple[list, list]:
    """(picks, marks) of completions in likelihood order: the first n, or with ``free`` the first n the
    corpus' registry does not have (``reply.note`` says what was not found)."""
    if not request.free:
        rows = rows[: request.n]
        return [(i, False) for i in range(len(rows))], _marks(availability, [r["name"] for r in rows])
    order = np.arange(len(rows), 0, -1, dtype=float)  # likeliest first, as the model gave them
    picks = [(i, False) for i in range(min(request.n, len(rows)))]
    picks, marks, reply.note = _confirmed_free(
        picks, order, rows, request.n, registries_for(request.corpus), availability
    )
    return picks, marks


def detect(request: DetectRequest, models: ModelRegistry, team: TeamModels | None = None) -> DetectReply:
    first_judge = not getattr(models.estimator("judge"), "with_verdict", True)  # a stack's first minutes
    for missing, what in ((first_judge, "full judge"), (models.optional_estimator("language") is None, "language")):
        if missing and (ready_at := models.training.get(what)) is not None:
            raise StillTraining("Telling what a name sounds like", max(0.0, ready_at - time.time()))
    answer = sounds_like(request.text, models.estimator("judge"), models.estimator("language"))
    if answer.is_name and request.team_corpora and team is not None:
        answer.real_in = sorted([*answer.real_in, *_team_corpora_with(normalise_pattern(request.text), request, team)])
    return DetectReply(answer=answer)


def _team_corpora_with(name: str, request: DetectRequest, team: TeamModels) -> list[str]:
    """The asker's team corpora that list ``name`` (one still training, or deleted meanwhile, lists nothing)."""
    found = []
    for slug, owner in request.team_corpora.items():
        try:
            if name in team.get(owner, slug).model.known_:
                found.append(slug)
        except TNaaSError:
            continue
    return found


def impressions(
    reply: NamesReply,
    channel: str,
    ts: str,
    requested_n: int,
    user: str | None,
    surface: str,
    team: str | None = None,
    owner: str | None = None,
) -> list[Impression]:
    """One impression per shown candidate, numbered from 1: the rows of the reranking dataset. A team
    corpus' (``owner``) are kept under its private id, so its votes, `top` and bandit stay its owner's."""
    shown_at = time.time()
    corpus = corpus_id(owner, reply.corpus) if owner is not None else reply.corpus
    return [
        Impression(
            channel=channel,
            ts=ts,
            index=i,
            name=c.name,
            corpus=corpus,
            model=reply.model,
            model_version=reply.model_version,
            pattern=reply.pattern,
            like=reply.like,
            log_prob=c.log_prob,
            believability=c.believability,
            real=c.real,
            judge=c.judge,
            nll=c.nll,
            known=c.known,
            explore=c.explore,
            requested_n=requested_n,
            requested_by=user,
            surface=surface,
            team=team,
            shown_at=shown_at,
        )
        for i, c in enumerate(reply.candidates, 1)
    ]


def team_answer(
    request: GenerateRequest | CompleteRequest | LikeRequest,
    team: TeamModels | None,
    settings: Settings,
    availability: Checks | None,
) -> NamesReply:
    """A request on a team's own corpus: its one model (chosen by the list's size when it was trained)
    answers; generation draws from its believable reservoir as for a built-in corpus (P(real) is the
    score), completions keep likelihood order, `like` shows the likeliest names near the one given."""
    if team is None:
        raise TNaaSError("Team corpora are not served here.")
    corpus = team.get(request.owner, request.corpus)
    model_name = corpus.info.model
    if request.model and request.model != model_name:
        raise ModelUnavailable(request.model, request.corpus, [model_name])
    rng = np.random.default_rng(request.seed)
    reply = NamesReply(
        corpus=request.corpus,
        model=model_name,
        model_version=corpus.version,
        model_chosen_by="request" if request.model else "default",
        candidates=[],
    )
    scores = None
    if isinstance(request, GenerateRequest):
        reply.free = request.free
        reservoir = corpus.reservoir
        if not request.include_known and len(reservoir) >= request.n:
            pool = max(request.n, settings.rerank_pool) if request.free else request.n
            picked = reservoir.draw(pool, rng)
            found = [Candidate(reservoir.names[i], float(reservoir.log_probs[i]), False) for i in picked]
            scores = np.asarray(reservoir.scores[picked], dtype=float)
            reply.ranked_by = f"believability {reservoir.info.version}"
        else:
            found = corpus.model.generate(request.n, rng, include_known=request.include_known)
    elif isinstance(request, CompleteRequest):
        reply.pattern, reply.free = request.pattern, request.free
        pool = max(request.n, settings.rerank_pool) if request.free else request.n
        found = corpus.model.complete(request.pattern, pool, rng, budget=settings.complete_budget)
    else:
        reply.like, reply.free = request.name, request.free
        found = names_like(corpus.model, request.name, max(request.n, settings.rerank_pool), rng)
        if not found:
            raise TNaaSError(f"I found no believable {request.corpus} names near '{request.name}'.")
        found = sorted(found, key=lambda c: c.nll_per_char)
    if scores is None:
        scores = np.array([-c.nll_per_char for c in found])
    rows = [
        {
            "name": c.name,
            "log_prob": c.log_prob,
            "known": c.known,
            "believability": None,
            "edits": getattr(c, "edits", None),
        }
        | ({"real": round(float(s), 4)} if reply.ranked_by.startswith("believability") else {})
        for c, s in zip(found, scores)
    ]
    picks = [(i, False) for i in range(min(request.n, len(rows)))]
    if getattr(request, "free", False):
        picks, marks, reply.note = _confirmed_free(picks, scores, rows, request.n, REGISTRIES, availability)
    else:
        marks = _marks(availability, [rows[i]["name"] for i, _ in picks])
    reply.candidates = [
        CandidateOut.model_validate(rows[i] | {"availability": m, "score": round(float(scores[i]), 4)})
        for (i, _), m in zip(picks, marks)
    ]
    return reply
