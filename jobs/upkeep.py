"""Scheduled upkeep, run as ordinary jobs on the workers (``jobs.schedule`` enqueues them).

- ``retrain_reranker``: when enough new votes came in since the reranker was trained, or the drift
  check says today's requests no longer look like its training data, train it again and publish the
  new model version, which every worker then loads between jobs. The artifacts folder must be the
  one the workers read (the compose volume, or the one machine of ``tnaas up`` / a Procfile runner).
- ``learn_from_first_votes``: the same, every ``TNAAS_LEARN_INTERVAL`` seconds, while the reranker is
  missing or young (``models.reranker.retrain_every``): a team's first votes shape its next requests
  within a minute rather than at the next hourly upkeep. It reads the impressions only when a vote
  was cast or taken back since its last look, and once the reranker is grown not at all.
- ``purge_expired``: impressions and votes older than ``TNAAS_RETENTION_DAYS`` are forgotten, so are the
  index entries of requests nobody voted on (their keys expire by themselves after
  ``core.limits.UNVOTED_KEEP``) and bulk voter batches whose cookies have expired. The first run after an
  upgrade moves the impressions kept in the layout before into today's (``VoteStore.upgrade``).
- ``refresh_snapshots``: registry snapshots an operator made, rebuilt from where they were made once
  ``TNAAS_AVAILABILITY_SNAPSHOT_REFRESH`` old (``availability.refresh``); none is ever made here.

The reranker learns from ``VoteStore.export``: people up and down on each name, voter ids minted in bulk
counted as one (``store.voters``), so stuffed votes teach it what one person's vote does.

All are idempotent: run twice, or by two schedulers, they do the work once.
"""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel

from availability.refresh import refresh_due
from availability.snapshot import SnapshotStore
from core.settings import Settings
from jobs.worker import WorkerContext, needs_context
from models.artifact import ArtifactInfo
from models.drift import check_drift
from models.reranker import YOUNG_ROWS, retrain_every, voted_rows
from models.training import train_reranker
from store.availability import SnapshotStates
from store.deploys import ModelVersions
from store.learnt import LearntModels
from store.shortlists import Shortlists
from store.voters import VoterBatches
from store.votes import VoteStore

log = logging.getLogger(__name__)
DAY = 24 * 3600


class Retrained(BaseModel):
    retrained: bool
    reason: str | None = None  # why it was due; None: not due
    message: str = ""
    version: str | None = None  # the published version after a retrain


def split_at(rows: list[dict], cut: float) -> tuple[list[dict], list[dict]]:
    """(impressions the reranker was trained on, impressions shown since)."""
    return [r for r in rows if r["shown_at"] <= cut], [r for r in rows if r["shown_at"] > cut]


def retrain_reason(rows: list[dict], info: ArtifactInfo | None, settings: Settings) -> str | None:
    """Why the reranker should be trained again now, or None."""
    if info is None:
        return "no reranker yet" if voted_rows(rows) else None
    old, new = split_at(rows, info.metrics["trained_until"])
    fresh = len(voted_rows(new))
    if fresh >= retrain_every(info.metrics.get("rows", 0), settings.retrain_new_votes):
        return f"{fresh} impressions on voted messages since the last training"
    report = check_drift(old, new)
    if report.drifted:
        return f"drift: old-vs-new accuracy {report.accuracy} above {report.threshold}"
    return None


@needs_context
def retrain_reranker(*, context: WorkerContext) -> dict:
    rows = list(VoteStore(context.connection).export())
    reason = retrain_reason(rows, context.models.estimator_info("reranker"), context.settings)
    if reason is None:
        log.debug("upkeep: reranker retrain not due")
        return Retrained(retrained=False).model_dump()
    info, message = train_reranker(context.models, rows)
    log.info("upkeep: retrain due (%s): %s", reason, message)
    if info is None or not message.startswith("reranker trained"):
        return Retrained(retrained=False, reason=reason, message=message).model_dump()
    # kept in Redis before the version is published: a worker on another machine that loads it finds it there
    LearntModels(context.connection).keep(context.models.estimator_path("reranker"))
    version = ModelVersions(context.connection).publish(context.models.fingerprint())
    log.info("upkeep: model version %s published", version)
    return Retrained(retrained=True, reason=reason, message=message, version=version).model_dump()


@needs_context
def learn_from_first_votes(*, context: WorkerContext) -> dict:
    info = context.models.estimator_info("reranker")
    if info is not None and info.metrics.get("rows", 0) >= YOUNG_ROWS:
        return Retrained(retrained=False).model_dump()  # grown: the hourly retrain_reranker is enough
    votes = VoteStore(context.connection)
    changes = votes.unseen_changes()
    if changes is None:  # every minute, on a stack nobody votes on: not every impression read each time
        return Retrained(retrained=False, message="no votes cast or taken back since the last look").model_dump()
    done = retrain_reranker(context=context)
    votes.learnt(changes)  # only once looked: a look that failed is made again
    return done


@needs_context
def purge_expired(*, context: WorkerContext) -> dict:
    days, votes = context.settings.retention_days, VoteStore(context.connection)
    if moved := votes.upgrade():
        log.info("upkeep: %d requests moved from the impressions list into their own keys", moved)
    purged = votes.purge_before(time.time() - days * DAY)
    shortlisted = Shortlists(context.connection).purge_before(time.time() - days * DAY)
    bulk = VoterBatches(context.connection).purge(time.time())
    log.log(
        logging.INFO if purged else logging.DEBUG,
        "upkeep: %d impressions older than %d days or unvoted and expired purged",
        purged,
        days,
    )
    return {"purged": purged, "retention_days": days, "bulk_batches_purged": bulk, "shortlisted_purged": shortlisted}


@needs_context
def refresh_snapshots(*, context: WorkerContext) -> dict:
    """Every worker's checker loads the new snapshot between jobs (its pointer file changed)."""
    settings = context.settings
    done = refresh_due(SnapshotStore(settings.snapshot_dir), settings, states=SnapshotStates(context.connection))
    if not done:
        log.debug("upkeep: no availability snapshot due for a refresh")
    return {"refreshed": done}
