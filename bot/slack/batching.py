"""The web process's side of Slack batches (``store.slack_batches``): a request joins the batch this
process opened last while no worker has taken it, and otherwise opens a new one, with its job.

No wait is added: an idle stack's worker takes each batch at once (batches of one); while the workers
are busy, the requests that would have waited in the queue one job each wait in one batch instead,
and a worker answers them together, posting their replies side by side.
"""

from __future__ import annotations

import math
import threading
import uuid
from datetime import UTC, datetime

from redis import Redis
from rq import Callback
from rq.job import Job

from core.errors import Unavailable
from core.limits import SLACK_BATCH_MAX
from core.settings import Settings, get_settings
from jobs.contracts import HomeJob, ReplyTo, Request, SlackBatch, SlackJob, StepJob
from jobs.queueing import enqueue_call
from store.home_tabs import HomeTabs
from store.slack_batches import SlackBatches


class SlackBatcher:
    def __init__(self, connection: Redis, settings: Settings):
        self.connection, self.settings = connection, settings
        self.batches = SlackBatches(connection)
        self._lock = threading.Lock()  # Bolt runs listeners in threads: one batch opened at a time
        self._open: dict[bool, str] = {}  # heavy or not -> the batch this process opened last

    def submit(self, request: Request, reply: ReplyTo, wait: float | None = None) -> None:
        """Queue a request; once this returns it is in a batch whose job is queued (Busy if the queue is
        full). ``wait``: the most seconds to wait for the other requests being queued (Unavailable after:
        while Redis is slow, each holds the lock up to its timeout)."""
        job = slack_job(request, reply)
        item = job.model_dump_json().encode()
        if not self._lock.acquire(timeout=-1 if wait is None or math.isinf(wait) else max(0.0, wait)):
            raise Unavailable()
        lane = request.heavy  # heavy requests are batched apart, in the heavy lane (jobs.queueing)
        try:
            if (open_batch := self._open.pop(lane, None)) is not None:
                size = self.batches.join(open_batch, item)
                if size:
                    if size < SLACK_BATCH_MAX:
                        self._open[lane] = open_batch
                    return
            self._open[lane] = start_slack_batch(self.connection, job, self.settings)
        finally:
            self._lock.release()


def slack_job(request: Request, reply: ReplyTo) -> SlackJob:
    """A request whose answer the worker posts to Slack itself (``bot.slack.replies``), with its own id."""
    return SlackJob(request=request, reply=reply, id=uuid.uuid4().hex, queued_at=datetime.now(UTC))


def start_slack_batch(connection: Redis, job: SlackJob, settings: Settings | None = None) -> str:
    """One job for a new batch holding ``job`` (``store.slack_batches``), enqueued in the transaction
    that opens the batch; returns the batch's id (the job's), which later requests may join.

    No RQ ``ttl`` here: a stale Slack job must still run, to tell its users "busy" instead of vanishing;
    and when it fails for good, ``on_failure`` tells each user whose answer was not delivered.
    """
    settings = settings or get_settings()
    batch = uuid.uuid4().hex
    options = {
        "job_id": batch,
        "ttl": None,
        # up to SLACK_BATCH_MAX answers one after another, each of which may wait on a registry
        "job_timeout": math.ceil(settings.job_timeout + SLACK_BATCH_MAX * settings.availability_timeout),
        "on_failure": Callback("bot.slack.tasks.tell_users_it_failed"),
    }
    payload, item = SlackBatch(batch=batch).model_dump(), job.model_dump_json().encode()
    if job.request.heavy:  # rq enqueues a rate-limited job on its own: the batch first, then its job
        with connection.pipeline() as pipe:
            SlackBatches(connection).start(pipe, batch, item)
            pipe.execute()
        try:
            enqueue_call(connection, "bot.slack.tasks.reply_in_batch", payload, settings, heavy=True, **options)
        except Exception:
            SlackBatches(connection).drop(batch)  # no job will take it: not acknowledged, not kept
            raise
        SlackBatches(connection).confirm(batch)
        return batch
    pipe = connection.pipeline()
    enqueue_call(connection, "bot.slack.tasks.reply_in_batch", payload, settings, pipeline=pipe, **options)
    SlackBatches(connection).start(pipe, batch, item)  # rq's commands come first
    pipe.execute()
    SlackBatches(connection).confirm(batch)
    return batch


def enqueue_shortlist_export(connection: Redis, who: HomeJob, settings: Settings | None = None) -> Job:
    """Send ``who`` their team's shortlist as a CSV file (a worker's job: Slack calls and an upload)."""
    return enqueue_call(connection, "bot.slack.tasks.export_shortlist", who.model_dump(), settings)


def enqueue_corpus_removal(connection: Redis, who: HomeJob, slug: str, settings: Settings | None = None) -> Job:
    """Remove the team's corpus ``slug`` (every name shown from it goes too: a scan, so a worker's job),
    then publish ``who``'s Home tab again."""
    return enqueue_call(connection, "bot.slack.tasks.remove_team_corpus", who.model_dump() | {"corpus": slug}, settings)


def enqueue_home(connection: Redis, home: HomeJob, settings: Settings | None = None) -> Job | None:
    """Publish someone's App Home tab (a Slack call, so a worker's job, never the web process's); None when
    one is queued for them already, which will publish what is current (``store.home_tabs``)."""
    tabs = HomeTabs(connection)
    if not tabs.ask(home.team, home.user):
        return None
    try:
        return enqueue_call(connection, "bot.slack.tasks.publish_home", home.model_dump(), settings)
    except Exception:
        tabs.started(home.team, home.user)
        raise


def enqueue_step(connection: Redis, step: StepJob, settings: Settings | None = None) -> Job:
    """Run a workflow step "Suggest names" and complete it (a worker's job: the models and a Slack call),
        under an id of its execution: rq holds one job per execution. Its last failed attempt completes the
    step with an apology (``bot.slack.tasks.step_failed``)."""
    return enqueue_call(
        connection,
        "bot.slack.tasks.suggest_names",
        step.model_dump(),
        settings,
        job_id=f"step-{step.execution}",
        on_failure=Callback("bot.slack.tasks.step_failed"),
    )
