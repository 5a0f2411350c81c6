"""A team's own corpus from Slack: the "Add a corpus" form's submission checked as an API upload is
(``corpora.team``: a problem is shown under its field), kept with the Slack team as its owner
(``owner_key`` of the team), trained by a worker, and its report sent to the submitter by direct
message once training is done (a job that waits on the training job, run by dotted path)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from redis import Redis
from rq.job import Dependency

from bot.slack.messages import corpus_form
from core.errors import BadCorpusList
from core.settings import Settings
from corpora import judge_corpus_names
from corpora.team import CheckedList, check_names, check_room, check_slug, split_lines
from jobs.queueing import corpus_lock_seconds, enqueue_call, enqueue_corpus_training
from store.team_corpora import NO_ROOM, TeamCorpora, team_owner

log = logging.getLogger(__name__)
REPORT_JOB = "bot.slack.tasks.tell_corpus_report"
BUSY = "This corpus is being trained from another upload right now: wait for it, then send yours."


@dataclass(frozen=True)
class CorpusForm:
    """A submission that passed the checks: what ``queue_corpus`` keeps and trains."""

    slug: str
    checked: CheckedList
    description: str


def check_form(connection: Redis, settings: Settings, values: dict, team: str) -> CorpusForm | dict[str, str]:
    """The submitted form checked (pure checks, then the team's room): the upload, or {field: problem}."""
    form = corpus_form(values)
    try:
        slug = check_slug(form["name"], judge_corpus_names())
    except BadCorpusList as err:
        return {"name": str(err)}
    try:
        lines, notes = split_lines(form["names"])
        checked = check_names(lines, notes)
    except BadCorpusList as err:
        return {"names": str(err)}
    store = TeamCorpora(connection)
    try:
        check_room(store.slugs(team_owner(team)), slug)
    except BadCorpusList as err:
        return {"name": str(err)}
    if store.stored_bytes() >= settings.team_corpora_mb * 1_048_576:
        return {"name": NO_ROOM}
    return CorpusForm(slug, checked, form["description"].strip())


def queue_corpus(
    connection: Redis, settings: Settings, form: CorpusForm, team: str, user: str, enterprise: str | None
) -> dict[str, str]:
    """Keep the checked list under the team and queue its training and then its report; {field: problem}
    when the corpus is training from another upload already (nothing kept then)."""
    slug, checked, owner, store = form.slug, form.checked, team_owner(team), TeamCorpora(connection)
    job_id = uuid.uuid4().hex
    about = {"dropped": checked.dropped, "notes": checked.notes}
    if form.description:
        about["description"] = form.description
    if not store.begin(owner, slug, checked.names, job_id, corpus_lock_seconds(settings), about):
        return {"name": BUSY}
    try:
        training = enqueue_corpus_training(connection, owner, slug, job_id, settings)
        enqueue_call(
            connection,
            REPORT_JOB,
            {"team": team, "enterprise": enterprise, "user": user, "corpus": slug},
            settings,
            look=False,
            depends_on=Dependency(jobs=[training], allow_failure=True),
        )
    except BaseException:
        store.abort(owner, slug, job_id)  # nothing queued: as if never sent
        raise
    log.info("team %s: corpus %s queued for training (%d names)", team, slug, len(checked.names))
    return {}
