"""The web process's side of Slack batches (``store.slack_batches``): a request joins the batch this
process opened last while no worker has taken it, and otherwise opens a new one, with its job.

No wait is added: an idle stack's worker takes each batch at once (batches of one); while the workers
are busy, the requests that would have waited in the queue one job each wait in one batch instead,
and a worker answers them together, posting their replies side by side.
"""

from __future__ import annotations

import threading

from redis import Redis

from jobs.contracts import ReplyTo, Request
from jobs.queueing import slack_job, start_slack_batch
from store.slack_batches import SlackBatches
from tnaas.limits import SLACK_BATCH_MAX
from tnaas.settings import Settings


class SlackBatcher:
    def __init__(self, connection: Redis, settings: Settings):
        self.connection, self.settings = connection, settings
        self.batches = SlackBatches(connection)
        self._lock = threading.Lock()  # Bolt runs listeners in threads: one batch opened at a time
        self._open: str | None = None

    def submit(self, request: Request, reply: ReplyTo) -> None:
        """Queue a request; once this returns it is in a batch whose job is queued (Busy if the queue is full)."""
        job = slack_job(request, reply)
        item = job.model_dump_json().encode()
        with self._lock:
            if self._open is not None:
                size = self.batches.join(self._open, item)
                if size:
                    if size >= SLACK_BATCH_MAX:
                        self._open = None
                    return
            self._open = None
            self._open = start_slack_batch(self.connection, job, self.settings)
