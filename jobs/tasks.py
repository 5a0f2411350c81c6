"""The job functions RQ runs: a dict in (what RQ stored), a dict out (what RQ keeps), and in between
the typed pipeline. Each gets the worker's context (models, Redis, settings) from ``ContextJob``."""

from __future__ import annotations

from rq import get_current_job

from jobs import slack_reply
from jobs.contracts import NamesReply, SlackJob, WebJob, request_from
from jobs.pipeline import answer, impressions
from jobs.worker import WorkerContext, needs_context
from store.arms import ArmCounts
from store.votes import WEB_CHANNEL, VoteStore


@needs_context
def answer_request(payload: dict, *, context: WorkerContext) -> dict:
    """Just the answer (the API's and the benchmarks' plain job): a request dict, a reply dict."""
    return answer(request_from(payload), context.models, ArmCounts(context.connection), context.settings).model_dump()


@needs_context
def answer_on_web(payload: dict, *, context: WorkerContext) -> dict:
    """An API / page request: the answer, its names recorded as impressions under the job's id.

    Impressions are recorded here, once, where the answer is made: whether the browser gets the
    answer within the API's wait or polls for it later, the votes that follow find their candidates.
    """
    job = WebJob.model_validate(payload)
    reply = answer(job.request, context.models, ArmCounts(context.connection), context.settings)
    current = get_current_job()
    if isinstance(reply, NamesReply) and reply.candidates and current is not None:
        VoteStore(context.connection).record_impressions(
            impressions(reply, WEB_CHANNEL, current.id, job.request.n, job.client, "web")
        )
    return reply.model_dump()


@needs_context
def reply_in_slack(payload: dict, *, context: WorkerContext) -> dict:
    """A Slack request: the answer, posted where it belongs (or "busy" if it waited too long)."""
    job = SlackJob.model_validate(payload)
    current = get_current_job()
    return slack_reply.reply(job, current.enqueued_at if current else None, context).model_dump()
