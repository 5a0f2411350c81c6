"""The job functions RQ runs: a dict in (what RQ stored), a dict out (what RQ keeps), and in between
the typed pipeline. Each gets the worker's context (models, Redis, settings) from ``ContextJob``."""

from __future__ import annotations

import logging

import orjson
from rq import get_current_job

from core.errors import Busy
from core.limits import TEAM_CORPUS_ARTIFACT_BYTES
from core.settings import Settings
from jobs.contracts import (
    QUEUED,
    CorpusJob,
    CorpusReport,
    NamesReply,
    TooLate,
    WebBatch,
    WebItem,
    WebJob,
    reply_from,
    request_from,
)
from jobs.pipeline import answer, answer_many, impressions
from jobs.queueing import queued_too_long
from jobs.worker import WorkerContext, needs_context
from models.team_corpus import train_team_corpus
from models.team_prior import team_prior
from store.answers import Answers
from store.team_corpora import NO_ROOM, TeamCorpora
from store.votes import WEB_CHANNEL, VoteStore

log = logging.getLogger(__name__)


def too_late(context: WorkerContext) -> TooLate | None:
    """A "busy" reply for a job that waited in the queue longer than TNAAS_QUEUE_TTL, else None.

    The job is not dropped (its caller would only see it vanish): it is answered at once, and the
    caller, polling or waiting, is told to try again, as when the queue is full.
    """
    current = get_current_job()
    if current is None or not queued_too_long(current.enqueued_at, context.settings.queue_ttl):
        return None
    return TooLate(error=str(Busy()))


@needs_context
def answer_request(payload: dict, *, context: WorkerContext) -> dict:
    """Just the answer (the API's and the benchmarks' plain job): a request dict, a reply dict."""
    if late := too_late(context):
        return late.model_dump()
    return answer(
        request_from(payload), context.models, context.arms, context.settings, context.availability, team=context.team
    ).model_dump()


@needs_context
def answer_on_web(payload: dict, *, context: WorkerContext) -> dict:
    """An API / page request: the answer, its names recorded as impressions under the job's id.

    Impressions are recorded here, once, where the answer is made: whether the browser gets the
    answer within the API's wait or polls for it later, the votes that follow find their candidates.
    """
    if late := too_late(context):
        return late.model_dump()
    job = WebJob.model_validate(payload, context=QUEUED)
    reply = answer(
        job.request, context.models, context.arms, context.settings, context.availability, job.caller, context.team
    )
    current = get_current_job()
    if isinstance(reply, NamesReply) and reply.candidates and current is not None:
        VoteStore(context.connection).record_impressions(
            impressions(reply, WEB_CHANNEL, current.id, job.request.n, job.client, "web", owner=_owner(job.request))
        )
    return reply.model_dump()


@needs_context
def answer_web_batch(payload: dict, *, context: WorkerContext) -> dict:
    """API requests sent together (``bot.api.batching``): each answered on its own, then every reply
    kept under its answer id with its impressions and pushed to the inbox where the web process waits,
    in one atomic round trip (``Answers.keep_and_deliver``). A rerun of the job (its worker was thought
    dead) answers again, but the replies its first run kept are the ones kept and delivered, their
    impressions recorded once: a caller never sees two answers.
    """
    batch = WebBatch.model_validate(payload, context=QUEUED)
    current = get_current_job()
    answers, settings, votes = Answers(context.connection), context.settings, VoteStore(context.connection)
    late = too_late(context)
    if late is not None:
        fresh = [late] * len(batch.items)
    else:
        fresh = answer_many(
            [i.request for i in batch.items],
            context.models,
            context.arms,
            settings,
            context.availability,
            [i.caller for i in batch.items],
            context.team,
        )
    replies, when_kept = {}, {}
    for item, reply in zip(batch.items, fresh):
        replies[item.answer_id] = orjson.dumps(reply.model_dump())
        if isinstance(reply, NamesReply) and reply.candidates:
            when_kept[item.answer_id] = votes.impression_commands(_impressions(reply, item))
    won = answers.keep_and_deliver(
        current.id if current else "none", replies, when_kept, settings.result_ttl, settings.api_wait + 5
    )
    # Kept before this run: by the job's first run (impressions recorded with it), or by a run of a
    # previous release that kept a reply and died before its impressions: recorded here, once.
    for item in (i for i in batch.items if i.answer_id not in won):
        kept = answers.get(item.answer_id)
        reply = reply_from(orjson.loads(kept)) if kept is not None else None
        if isinstance(reply, NamesReply) and reply.candidates:
            votes.record_impressions(_impressions(reply, item))
    return {"answered": len(replies)}


def _impressions(reply: NamesReply, item: WebItem) -> list:
    return impressions(
        reply, WEB_CHANNEL, item.answer_id, item.request.n, item.client, "web", owner=_owner(item.request)
    )


def _owner(request) -> str | None:
    """A team corpus' owner (its impressions are kept under its private id), None for a built-in one."""
    return getattr(request, "owner", None)


@needs_context
def train_corpus(payload: dict, *, context: WorkerContext) -> dict:
    """Train a team's own corpus from the list its upload kept, and publish the new version in one
    transaction: until then the previous version (if any) keeps serving. A worker killed mid-training
    publishes nothing; rq retries the job (``TNAAS_RETRIES``). Returns the report."""
    return train_and_publish(TeamCorpora(context.connection), CorpusJob.model_validate(payload), context.settings)


def train_and_publish(corpora: TeamCorpora, job: CorpusJob, settings: Settings) -> dict:
    """What ``train_corpus`` does, for the worker and for the operator's command line alike."""
    names = corpora.names(job.owner, job.corpus)
    if names is None:
        return {"status": "deleted"}  # deleted before its turn came
    state = corpora.states(job.owner).get(job.corpus, {})
    trained = train_team_corpus(job.corpus, names, prior=team_prior(settings.data_dir))
    report = CorpusReport(
        names=len(names),
        dropped=state.get("dropped", {}),
        notes=state.get("notes", []),
        model=trained.model_name,
        heldout_nll=trained.heldout_nll,
        examples=trained.examples,
        reservoir=trained.reservoir_names,
        seconds=trained.seconds,
        warning=trained.warning,
    )
    size = len(trained.model) + len(trained.reservoir)
    if size > TEAM_CORPUS_ARTIFACT_BYTES:  # not met at 50,000 names
        corpora.failed(job.owner, job.corpus, "Its trained model is too large to keep: send fewer or shorter names.")
        return {"status": "failed"}
    if not corpora.room_for(job.owner, job.corpus, size, settings.team_corpora_mb * 1_048_576):
        corpora.failed(job.owner, job.corpus, NO_ROOM)
        return {"status": "failed"}
    published = corpora.publish(
        job.owner, job.corpus, trained.version, trained.model, trained.reservoir, report.model_dump()
    )
    return {"status": "ready" if published else "deleted", "report": report.model_dump()}


def corpus_training_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """rq's failure callback: a training that failed for good (retries spent) says so in its state. rq
    calls it on every failure, before it decides to retry (its worker killed, an exception): a job with
    retries left is still training."""
    payload = CorpusJob.model_validate(job.args[0])
    if job.retries_left:
        log.warning("training the team corpus %s failed (%s): retried", payload.corpus, exc_type.__name__)
        return
    log.error("training the team corpus %s failed: %s", payload.corpus, exc_value)
    TeamCorpora(connection).failed(payload.owner, payload.corpus, "Training failed on our side: send the list again.")
