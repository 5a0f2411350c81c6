"""When upkeep runs: rq's own ``CronScheduler`` (rq >= 2.5), not the system's cron.

``tnaas scheduler`` is one small process that enqueues the upkeep jobs (``jobs.upkeep``) every
``TNAAS_UPKEEP_INTERVAL`` seconds (the snapshot refresh among them, which rebuilds only what is due),
and once at its start; the workers run them like any job. Run
one scheduler per stack: a second one only enqueues the same idempotent jobs twice.
"""

from __future__ import annotations

from redis import Redis
from rq.cron import CronScheduler

from core.settings import Settings
from jobs import upkeep

UPKEEP = (upkeep.retrain_reranker, upkeep.purge_expired)  # every TNAAS_UPKEEP_INTERVAL seconds
LEARNING = (upkeep.learn_from_first_votes,)  # every TNAAS_LEARN_INTERVAL seconds
# every TNAAS_UPKEEP_INTERVAL seconds too: the job rebuilds only snapshots older than
# TNAAS_AVAILABILITY_SNAPSHOT_REFRESH, so a daily refresh happens within an upkeep interval of being due
SNAPSHOTS = (upkeep.refresh_snapshots,)
UPKEEP_TIMEOUT = 600  # seconds: retraining the reranker and the drift check take seconds, not minutes


def scheduler(connection: Redis, settings: Settings) -> CronScheduler:
    cron = CronScheduler(connection=connection, logging_level=settings.log_level)
    download = settings.availability_refresh_timeout + 60  # reading a whole index, then hashing it
    for funcs, interval, timeout in (
        (UPKEEP, settings.upkeep_interval, UPKEEP_TIMEOUT),
        (LEARNING, settings.learn_interval, UPKEEP_TIMEOUT),
        (SNAPSHOTS, settings.upkeep_interval, max(UPKEEP_TIMEOUT, download)),
    ):
        for func in funcs:
            cron.register(
                func,
                settings.queue,
                interval=interval,
                job_timeout=timeout,
                result_ttl=settings.result_ttl,
                failure_ttl=settings.failure_ttl,
                ttl=interval,  # not taken within one interval: the next one will do
            )
    return cron
