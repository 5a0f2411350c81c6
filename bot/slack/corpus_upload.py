"""A team's own corpus from Slack: the "Add a corpus" form's submission checked as an API upload is
(``corpora.team``: a problem is shown under its field), kept with the Slack team as its owner
(``owner_key`` of the team), trained by a worker, and its report sent to the submitter by direct
message once training is done (a job that waits on the training job, run by dotted path).

Names pasted are checked here, within Slack's three seconds. A file is only looked at (one, of a
plausible size): a worker fetches it from Slack with the bot's token, checks it the same way and
queues its training (``bot.slack.corpus_file``), or tells the submitter by direct message why not."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from redis import Redis
from rq.job import Callback, Dependency

from bot.slack.messages import corpus_form, corpus_form_files
from core.errors import BadCorpusList
from core.limits import TEAM_CORPUS_FILE_SECONDS, TEAM_CORPUS_MAX_BYTES
from core.settings import Settings
from corpora import judge_corpus_names
from corpora.team import CheckedList, check_names, check_room, check_slug, split_lines
from jobs.queueing import corpus_lock_seconds, enqueue_call, enqueue_corpus_training
from store.team_corpora import NO_ROOM, TeamCorpora, team_owner

log = logging.getLogger(__name__)
REPORT_JOB = "bot.slack.tasks.tell_corpus_report"
FILE_JOB = "bot.slack.tasks.fetch_corpus_file"
FILE_FAILED = "bot.slack.tasks.corpus_file_failed"
BOTH = "Either paste the names or upload a file, not both: clear one of them."
NEITHER = "Paste the names here, one per line, or upload a file of them below."
BUSY = "This corpus is being trained from another upload right now: wait for it, then send yours."


@dataclass(frozen=True)
class CorpusForm:
    """A submission that passed the checks: what ``queue_corpus`` keeps and trains."""

    slug: str
    checked: CheckedList
    description: str
    fetched_by: str | None = None  # the job that fetched its file: a rerun of it finds its upload queued


@dataclass(frozen=True)
class CorpusFile:
    """A submission with a file: what a worker fetches (by its id, from Slack), checks and trains."""

    slug: str
    file: str  # Slack's file id
    description: str


def check_form(
    connection: Redis, settings: Settings, values: dict, team: str
) -> CorpusForm | CorpusFile | dict[str, str]:
    """The submitted form checked (pure checks, then the team's room): the upload, or {field: problem}."""
    form, files = corpus_form(values), corpus_form_files(values)
    try:
        slug = check_slug(form["name"], judge_corpus_names())
    except BadCorpusList as err:
        return {"name": str(err)}
    if form["names"].strip() and files:
        return {"file": BOTH}
    if files:
        problem = file_problem(files)
        if problem:
            return {"file": problem}
        upload: CorpusForm | CorpusFile = CorpusFile(slug, files[0]["id"], form["description"].strip())
    elif not form["names"].strip():
        return {"names": NEITHER}
    else:
        try:
            lines, notes = split_lines(form["names"])
            upload = CorpusForm(slug, check_names(lines, notes), form["description"].strip())
        except BadCorpusList as err:
            return {"names": str(err)}
    store = TeamCorpora(connection)
    try:
        check_room(store.slugs(team_owner(team)), slug)
    except BadCorpusList as err:
        return {"name": str(err)}
    if store.stored_bytes() >= settings.team_corpora_mb * 1_048_576:
        return {"name": NO_ROOM}
    return upload


def file_problem(files: list[dict]) -> str | None:
    """What is wrong with the form's file at a glance (Slack's own word on its size), or None. The worker
    checks it again from ``files.info``: the submission's copy of the file object is the client's."""
    if len(files) > 1:
        return "Upload one file: the names of one corpus."
    size = files[0].get("size")
    if isinstance(size, int) and size > TEAM_CORPUS_MAX_BYTES:
        return f"That file is {size / 1_048_576:.1f} MB; a name list may be at most {TEAM_CORPUS_MAX_BYTES // 1_048_576} MB."
    return None


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
    if form.fetched_by:
        about["fetched_by"] = form.fetched_by
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


def queue_file(connection: Redis, settings: Settings, upload: CorpusFile, team: str, user: str, enterprise: str | None):
    """Queue fetching the form's file (then its checks and training, or a direct message saying why not)."""
    payload = {
        "team": team,
        "enterprise": enterprise,
        "user": user,
        "corpus": upload.slug,
        "file": upload.file,
        "description": upload.description,
    }
    timeout = settings.job_timeout + TEAM_CORPUS_FILE_SECONDS  # its download may take that long
    enqueue_call(connection, FILE_JOB, payload, settings, job_timeout=timeout, on_failure=Callback(FILE_FAILED))
    log.info("team %s: corpus %s queued from a file", team, upload.slug)
