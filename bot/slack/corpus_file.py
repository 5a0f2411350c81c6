"""A corpus uploaded as a file in the "Add a corpus" form, fetched by a worker: Slack's ``files.info``
for the file id (with the workspace's bot token: a file the workspace cannot read, or one from another
workspace, is refused), its bytes from ``url_private_download`` (the bearer token in the header, no
redirect followed: Slack answers a request it does not accept with a redirect to its sign-in page), read
at most ``TEAM_CORPUS_MAX_BYTES`` and within ``TEAM_CORPUS_FILE_SECONDS``; then the same checks as a
paste (``corpora.team``) and the same training and report (``bot.slack.corpus_upload.queue_corpus``).

The address fetched is the one ``files.info`` gives, never one from the submission. Whatever goes wrong
reaches the submitter by direct message, and nothing is kept."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request

from redis import Redis
from rq import get_current_job
from slack_sdk.errors import SlackApiError

from bot.slack.corpus_upload import BUSY, CorpusForm, queue_corpus
from bot.slack.messages import code
from bot.slack.replies import tell_user
from bot.slack.web_api import LOST_ACCESS, NoToken, Tokens, error_code, web_client
from core.errors import BadCorpusList, shown
from core.limits import TEAM_CORPUS_FILE_SECONDS, TEAM_CORPUS_MAX_BYTES
from core.settings import Settings
from corpora.team import check_names, check_room, read_upload
from store.team_corpora import NO_ROOM, TeamCorpora, team_owner

log = logging.getLogger(__name__)
CHUNK = 64 * 1024

GONE = {"file_not_found", "file_deleted"}
REFUSED = {"access_denied", "no_permission", "org_login_required", "team_access_not_granted"}
SAY = {
    "gone": "Slack no longer has that file (it was deleted, or its upload did not finish): add it again.",
    "refused": "Slack would not let me read that file: upload it from your computer in the form.",
    "lost": "I cannot read files in this workspace: ask an admin to reinstall the app (it needs files:read).",
    "other_team": "That file belongs to another workspace: upload a file from your computer in the form.",
    "download": "I could not download that file from Slack ({why}): try again in a minute.",
}
MB = TEAM_CORPUS_MAX_BYTES // 1_048_576


class FileRefused(Exception):
    """Why a form's file cannot become a corpus, in words for its submitter."""


def fetch_corpus_file(payload: dict, connection: Redis, settings: Settings) -> dict:
    """Fetch, check and queue the training of the form's file; or tell the submitter why not."""
    team, enterprise, user, slug = payload["team"], payload.get("enterprise"), payload["user"], payload["corpus"]
    job = get_current_job()
    if (
        job is not None
        and (TeamCorpora(connection).states(team_owner(team)).get(slug) or {}).get("fetched_by") == job.id
    ):
        return {"queued": True, "again": True}  # a rerun of this job (its worker died after queueing): done already
    try:
        token = Tokens(connection, settings).bot_token(team, enterprise)
    except NoToken as err:
        log.error("team %s: no token to fetch a corpus file: %s", team, err.code)
        return {"queued": False, "why": err.code}
    try:
        info = file_info(web_client(token, settings.slack_api_url), payload["file"], team)
        data = download(info, token)
        checked = check_names(*read_upload(data))
        store = TeamCorpora(connection)
        check_room(store.slugs(team_owner(team)), slug)
        if store.stored_bytes() >= settings.team_corpora_mb * 1_048_576:
            raise BadCorpusList(NO_ROOM)
        form = CorpusForm(slug, checked, payload.get("description") or "", job.id if job is not None else None)
        if queue_corpus(connection, settings, form, team, user, enterprise):
            raise FileRefused(BUSY)
    except (FileRefused, BadCorpusList) as err:
        log.info("team %s: the file for corpus %s was refused: %s", team, slug, err)
        tell_user(team, enterprise, user, refusal(slug, str(err)), connection, settings)
        return {"queued": False, "why": str(err)}
    return {"queued": True, "names": len(checked.names)}


def refusal(slug: str, why: str) -> str:
    return f"Your corpus {code(slug)} was not added from your file, and nothing changed: {why}"


def file_info(client, file_id: str, team: str) -> dict:
    """Slack's file object for ``file_id`` as this workspace sees it; FileRefused when Slack will not give
    it, it is another workspace's, or it is larger than a name list may be. A code not listed here (a
    long rate limit, Slack down) fails the job: rq retries it, and its last failure tells the submitter."""
    try:
        info = client.files_info(file=file_id).get("file") or {}
    except SlackApiError as err:
        code_ = error_code(err)
        if code_ in GONE:
            raise FileRefused(SAY["gone"]) from None
        if code_ in REFUSED:
            raise FileRefused(SAY["refused"]) from None
        if code_ in LOST_ACCESS:
            log.error("team %s: files.info refused the bot's token: %s", team, code_)
            raise FileRefused(SAY["lost"]) from None
        raise
    owner = info.get("user_team") or info.get("source_team")
    if owner and owner != team:
        raise FileRefused(SAY["other_team"])
    size = info.get("size")
    if isinstance(size, int) and size > TEAM_CORPUS_MAX_BYTES:
        raise FileRefused(f"That file is {size / 1_048_576:.1f} MB; a name list may be at most {MB} MB.")
    if info.get("is_external") or not (info.get("url_private_download") or info.get("url_private")):
        raise FileRefused(SAY["refused"])
    return info


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is Slack's "sign in first" (and following it would carry the token elsewhere): refused."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def download(info: dict, token: str) -> bytes:
    """The file's bytes, with the bot token; FileRefused when Slack does not hand them over, when they
    are more than TEAM_CORPUS_MAX_BYTES (the download stops there) or take over TEAM_CORPUS_FILE_SECONDS."""
    url = info.get("url_private_download") or info.get("url_private")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + TEAM_CORPUS_FILE_SECONDS
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=TEAM_CORPUS_FILE_SECONDS) as response:
            if "text/html" in (response.headers.get("Content-Type") or ""):
                raise FileRefused(SAY["download"].format(why="Slack answered with a web page, not the file"))
            data = bytearray()
            while chunk := response.read(CHUNK):
                data += chunk
                if len(data) > TEAM_CORPUS_MAX_BYTES:
                    raise FileRefused(f"That file is over {MB} MB, the most a name list may be.")
                if time.monotonic() > deadline:
                    raise FileRefused(SAY["download"].format(why=f"it took over {TEAM_CORPUS_FILE_SECONDS} s"))
            return bytes(data)
    except urllib.error.HTTPError as err:
        raise FileRefused(SAY["download"].format(why=f"HTTP {err.code}")) from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise FileRefused(SAY["download"].format(why=shown(str(getattr(err, "reason", err)))[:80])) from None
