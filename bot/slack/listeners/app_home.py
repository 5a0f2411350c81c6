"""Someone opened the bot's Home tab: a worker publishes it (how to use the bot, the team's
best-voted names, the model standings)."""

from __future__ import annotations

from contextlib import suppress

from bot.slack.batching import enqueue_home
from bot.slack.deps import deps_of
from core.errors import Busy
from jobs.contracts import HomeJob
from store.events import SeenEvents


def app_home_opened(body: dict, event: dict, context) -> None:
    if event.get("tab") != "home":
        return
    deps = deps_of(context)
    if not SeenEvents(deps.connection).first_time(body["event_id"]):
        return
    home = HomeJob(team=context.team_id or body.get("team_id"), user=event["user"], enterprise=context.enterprise_id)
    with suppress(Busy):  # when busy, the tab keeps what it showed last; the next opening publishes it again
        enqueue_home(deps.connection, home, deps.settings)
