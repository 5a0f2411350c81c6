"""The Slack surface's job functions, run by the workers (enqueued by dotted path, so the web process
never imports them): answer a batch of Slack requests and post each reply, publish an App Home tab,
complete a workflow step, fetch a corpus file from Slack, and tell the users of a job that failed for good."""

from __future__ import annotations

import logging

from rq.job import Job

from bot.slack import replies
from bot.slack.commands import corpus_action
from bot.slack.corpus_file import fetch_corpus_file as fetch_file
from bot.slack.corpus_file import refusal
from bot.slack.grammar import CorpusAction
from bot.slack.workflow_step import FAILED, complete, run_step
from core.settings import get_settings
from jobs.contracts import QUEUED, HomeJob, SlackBatch, SlackJob, StepJob
from jobs.worker import WorkerContext, needs_context
from store.home_tabs import HomeTabs
from store.slack_batches import SlackBatches

log = logging.getLogger(__name__)


@needs_context
def reply_in_batch(payload: dict, *, context: WorkerContext) -> dict:
    """Slack requests queued together (``store.slack_batches``): each answered, then every reply posted
    where it belongs, side by side. A rerun of the job (same id) reads the same requests, and each
    reply continues where the previous attempt stopped."""
    batch = SlackBatch.model_validate(payload)
    jobs = [
        SlackJob.model_validate_json(item, context=QUEUED)
        for item in SlackBatches(context.connection).take(batch.batch)
    ]
    if not jobs:  # its requests expired (a day in the queue) or Redis lost them: the operator must see it
        raise LookupError(f"Slack batch {batch.batch} holds no requests")
    return {"posted": [posted.model_dump() for posted in replies.reply_all(jobs, context)]}


@needs_context
def publish_home(payload: dict, *, context: WorkerContext) -> dict:
    """Someone opened the bot's App Home tab: publish it for them (openings from now on queue another),
    then, when the team has a shortlist, publish it again with its names' availability re-checked."""
    job = HomeJob.model_validate(payload)
    HomeTabs(context.connection).started(job.team, job.user)
    published = replies.publish_home(job.team, job.user, job.enterprise, context.connection, context.settings)
    if "error" in published:
        return published
    return recheck_home(job, context) or published


def recheck_home(job: HomeJob, context: WorkerContext) -> dict | None:
    """The Home tab republished with its shortlist re-checked (None: nothing to re-check)."""
    marks = replies.shortlist_marks(job.team, context.connection, context.availability)
    if not marks:
        return None
    published = replies.publish_home(job.team, job.user, job.enterprise, context.connection, context.settings, marks)
    return published | {"rechecked": len(marks)}


@needs_context
def export_shortlist(payload: dict, *, context: WorkerContext) -> dict:
    """Someone clicked Export on the Home tab: their team's shortlist, as a CSV file, by direct message."""
    job = HomeJob.model_validate(payload)
    return replies.export_shortlist(job.team, job.user, job.enterprise, context.connection, context.settings)


@needs_context
def suggest_names(payload: dict, *, context: WorkerContext) -> dict:
    """A Workflow Builder step "Suggest names": the names made and the step completed, once."""
    return run_step(StepJob.model_validate(payload), context)


def step_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """rq's ``on_failure`` for a workflow step: once its last attempt has failed, the step is completed
    with an apology, so the workflow stops with a reason instead of waiting out Slack's timeout."""
    if job.retries_left:
        return
    try:
        complete(StepJob.model_validate(job.args[0]), connection, get_settings(), error=FAILED)
    except Exception:  # a failure callback must not fail: log it for the operator
        log.exception("could not complete workflow step job %s as failed", job.id)


def tell_users_it_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """rq's ``on_failure`` for Slack jobs: when the last attempt has failed (an exception, or a worker
    that died: rq's abandoned-job sweep calls this too), each user whose answer was not delivered hears
    so privately rather than nothing. Attempts with retries left stay silent: rq runs the job again.
    The batch is taken (closed) first: a job that failed before any worker took it must not keep
    gathering requests that nobody will answer."""
    if job.retries_left:
        return
    try:
        batch = SlackBatch.model_validate(job.args[0])
        jobs = [
            SlackJob.model_validate_json(item, context=QUEUED) for item in SlackBatches(connection).take(batch.batch)
        ]
        replies.tell_failures(jobs, job.id, connection, get_settings(), exc_value)
    except Exception:  # a failure callback must not fail: log it for the operator
        log.exception("could not tell the users of Slack job %s that it failed", job.id)


@needs_context
def tell_corpus_report(payload: dict, *, context: WorkerContext) -> dict:
    """A team corpus' training is done (or failed for good): its report to the submitter, by DM."""
    return replies.tell_corpus_report(
        payload["team"],
        payload.get("enterprise"),
        payload["user"],
        payload["corpus"],
        context.connection,
        context.settings,
    )


@needs_context
def remove_team_corpus(payload: dict, *, context: WorkerContext) -> dict:
    """Remove on the Home tab's corpora: the team's corpus and every name shown from it go, as with
    `/techname corpus rm NAME`; then the clicker's Home tab is published again."""
    job = HomeJob.model_validate(payload)
    said = corpus_action(
        CorpusAction(action="rm", name=str(payload.get("corpus") or "")), context.connection, job.team or ""
    )
    log.info("team %s: %s", job.team, said)
    return replies.publish_home(job.team, job.user, job.enterprise, context.connection, context.settings) | {
        "said": said
    }


@needs_context
def fetch_corpus_file(payload: dict, *, context: WorkerContext) -> dict:
    """A corpus sent as a file in the "Add a corpus" form: fetched from Slack, checked and its training
    queued; or its submitter told why not, by direct message."""
    return fetch_file(payload, context.connection, context.settings)


def corpus_file_failed(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """rq's ``on_failure`` for fetching a corpus file: once its last attempt has failed (Slack down, a
    long rate limit), the submitter hears so rather than nothing."""
    if job.retries_left:
        return
    try:
        payload = job.args[0]
        text = refusal(payload["corpus"], "I could not reach Slack to fetch it: try again in a few minutes.")
        replies.tell_user(payload["team"], payload.get("enterprise"), payload["user"], text, connection, get_settings())
    except Exception:  # a failure callback must not fail: log it for the operator
        log.exception("could not tell the submitter of corpus file job %s that it failed", job.id)
