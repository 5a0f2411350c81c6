"""When upkeep runs: rq's own ``CronScheduler`` (rq >= 2.5), not the system's cron.

``tnaas scheduler`` is one small process that enqueues the upkeep jobs (``jobs.upkeep``) every
``TNAAS_UPKEEP_INTERVAL`` seconds, and once at its start; the workers run them like any job. Run
one scheduler per stack: a second one only enqueues the same idempotent jobs twice.
"""

from __future__ import annotations

from redis import Redis
from rq.cron import CronScheduler

from core.settings import Settings
from jobs import upkeep

UPKEEP = (upkeep.retrain_reranker, upkeep.purge_expired)  # every TNAAS_UPKEEP_INTERVAL seconds
LEARNING = (upkeep.learn_from_first_votes,)  # every TNAAS_LEARN_INTERVAL seconds
UPKEEP_TIMEOUT = 600  # seconds: retraining the reranker and the drift check take seconds, not minutes


def scheduler(connection: Redis, settings: Settings) -> CronScheduler:
    cron = CronScheduler(connection=connection, logging_level=settings.log_level)
    for funcs, interval in ((UPKEEP, settings.upkeep_interval), (LEARNING, settings.learn_interval)):
        for func in funcs:
            cron.register(
                func,
                settings.queue,
                interval=interval,
                job_timeout=UPKEEP_TIMEOUT,
                result_ttl=settings.result_ttl,
                failure_ttl=settings.failure_ttl,
                ttl=interval,  # not taken within one interval: the next one will do
            )
    return cron
