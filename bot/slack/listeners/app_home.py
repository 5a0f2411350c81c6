"""Someone opened the bot's Home tab: a worker publishes it (how to use the bot, the team's
best-voted names, the model standings). Its corpora section: "Add a corpus" opens the form, Remove
beside one of the team's corpora queues its removal (a worker's job, which publishes the tab again)."""

from __future__ import annotations

import logging
from contextlib import suppress

from redis.exceptions import RedisError

from bot.slack.batching import enqueue_corpus_removal, enqueue_home
from bot.slack.deps import deps_of
from bot.slack.listeners.corpus import open_corpus_modal
from core.errors import Busy
from jobs.contracts import HomeJob
from store.events import SeenEvents

log = logging.getLogger(__name__)


def app_home_opened(body: dict, event: dict, context) -> None:
    if event.get("tab") != "home":
        return
    deps = deps_of(context)
    if not SeenEvents(deps.connection).first_time(body["event_id"]):
        return
    home = HomeJob(team=context.team_id or body.get("team_id"), user=event["user"], enterprise=context.enterprise_id)
    with suppress(Busy):  # when busy, the tab keeps what it showed last; the next opening publishes it again
        enqueue_home(deps.connection, home, deps.settings)


def add_corpus_button(ack, body: dict, context, client=None) -> None:
    """ "Add a corpus" on the Home tab: the form of `/techname corpus add`, within the click's trigger window."""
    if client is not None:
        open_corpus_modal(client, body.get("trigger_id") or "")
    ack()


def remove_corpus_button(ack, body: dict, action: dict, context) -> None:
    """Remove beside one of the team's corpora on the Home tab (confirmed in Slack's dialog first): its
    removal queued; the tab is published again once it is done. Only the clicker's own team's corpus
    can be named: another's, or one already gone, changes nothing."""
    ack()
    deps, team, user = deps_of(context), context.team_id or "", (body.get("user") or {}).get("id") or ""
    slug = (action.get("value") or "").strip().lower()
    if not (team and user and slug):
        return
    try:
        enqueue_corpus_removal(
            deps.connection, HomeJob(team=team, user=user, enterprise=context.enterprise_id), slug, deps.settings
        )
    except (RedisError, Busy) as err:
        log.warning("team %s: a corpus removal by %s was not queued (%s)", team, user, err)
