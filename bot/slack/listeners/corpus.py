"""`/techname corpus add`: the "Add a corpus" form opens (``views.open`` within Slack's trigger window,
before any other work); its submission is checked and queued by ``bot.slack.corpus_upload`` (a problem
goes back under its field, the modal stays open; a file is fetched and checked by a worker, which tells
the submitter by direct message); a view submitted again (Slack retries: the same view id) is
acknowledged and trains nothing more."""

from __future__ import annotations

import logging
from contextlib import suppress

from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError

from bot.slack.corpus_upload import CorpusFile, CorpusForm, check_form, queue_corpus, queue_file
from bot.slack.deps import deps_of
from bot.slack.messages import corpus_modal
from bot.slack.web_api import error_code
from core.errors import TNaaSError
from core.limits import TEAM_CORPUS_MAX_BYTES, TEAM_CORPUS_MIN_NAMES, TEAM_CORPUS_SLUG_LEN, TEAM_CORPUS_UPLOADS_PER_HOUR
from store.events import SeenEvents
from store.rate_limit import HOUR, RateLimited, RateLimits, corpus_upload_counters

log = logging.getLogger(__name__)
MAX_ERROR = 150  # characters Slack shows under a modal's input
TEXT_BOX = 3000  # characters a plain_text_input holds at most: one paste
TOO_MANY = "Thank you for all these lists! One person may send {n} an hour: try this one again in {minutes} min."


def open_corpus_modal(client, trigger_id: str) -> bool:
    """Open the form; False when Slack refused (an expired trigger, a lost token): logged."""
    try:
        client.views_open(
            trigger_id=trigger_id,
            view=corpus_modal(
                TEXT_BOX, TEAM_CORPUS_MIN_NAMES, TEAM_CORPUS_SLUG_LEN, TEAM_CORPUS_MAX_BYTES // 1_048_576
            ),
        )
        return True
    except SlackApiError as err:
        log.warning("the corpus modal did not open: %s", error_code(err))
        return False


def corpus_submitted(ack, body: dict, view: dict, context) -> None:
    deps = deps_of(context)
    user, team = (body.get("user") or {}).get("id") or "", context.team_id or ""
    if not user or not team:
        return ack(response_action="errors", errors={"name": "I could not tell who sent this: open the form again."})
    values = (view.get("state") or {}).get("values") or {}
    seen, submission = SeenEvents(deps.connection), f"view:{view.get('id')}"
    uploads, counters = RateLimits(deps.connection), corpus_upload_counters(team, user, TEAM_CORPUS_UPLOADS_PER_HOUR)
    taken = counted = False
    try:
        checked = check_form(deps.connection, deps.settings, values, team)
        if isinstance(checked, CorpusForm | CorpusFile):
            if not seen.first_time(submission):
                return ack()  # submitted again: queued once already
            taken = True
            uploads.check_each(counters, HOUR)
            counted = True
            if isinstance(checked, CorpusFile):
                queue_file(deps.connection, deps.settings, checked, team, user, context.enterprise_id)
                checked = {}
            else:
                checked = queue_corpus(deps.connection, deps.settings, checked, team, user, context.enterprise_id)
    except RateLimited as err:
        log.info("team %s: %s sent too many corpora this hour", team, user)
        checked = {"name": TOO_MANY.format(n=TEAM_CORPUS_UPLOADS_PER_HOUR, minutes=max(1, err.seconds // 60))}
    except (RedisError, TNaaSError) as err:
        log.warning("team %s: a corpus submitted by %s was not queued (%s)", team, user, err)
        checked = {"name": "I could not take that right now: try again in a minute."}
    if checked and taken:
        with suppress(RedisError):
            seen.forget(submission)  # nothing queued: the same form, sent again, is taken
            if counted:
                uploads.uncount(counters, HOUR)  # and it does not count against its sender
    if checked:
        return ack(response_action="errors", errors={k: v[:MAX_ERROR] for k, v in checked.items()})
    ack()
