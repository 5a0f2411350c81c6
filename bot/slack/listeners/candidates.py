"""A candidate's Shortlist button and its overflow menu, and the Home tab's shortlist (Remove, Export):
each acks, hands the click to ``bot.slack.clicks`` (or queues a job), and answers privately."""

from __future__ import annotations

import logging
from contextlib import suppress

from redis.exceptions import RedisError

from bot.slack import clicks
from bot.slack.batching import enqueue_home, enqueue_shortlist_export
from bot.slack.deps import budget_of, deps_of
from bot.slack.messages import key_of_block, parse_more, parse_vote_value
from core.errors import Busy, TNaaSError, Unavailable
from jobs.contracts import HomeJob
from store.shortlists import Shortlists

log = logging.getLogger(__name__)
NOT_DONE = "I could not do that right now: try again in a minute."


def _say(respond, text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as err:  # what was done stays done when the confirmation cannot be shown
        log.warning("could not confirm a click: %s", err)


def shortlist_button(ack, body: dict, action: dict, respond, context) -> None:
    ack()
    try:
        index, key = parse_vote_value(action.get("value") or "")
    except ValueError:
        return _say(respond, clicks.UNKNOWN_CHOICE)
    deps, click = deps_of(context), clicks.Click.of(body, context, key)
    try:
        budget_of(context).after_ack().check()
        _say(respond, clicks.shortlist(click, index, deps))
    except (RedisError, Unavailable) as err:
        log.warning("team %s: a shortlist click by %s failed (%s)", click.team, click.user, err)
        _say(respond, NOT_DONE)


def candidate_menu(ack, body: dict, action: dict, respond, context) -> None:
    ack()
    try:
        what, index = parse_more(
            action.get("action_id") or "", (action.get("selected_option") or {}).get("value") or ""
        )
    except ValueError:
        return _say(respond, clicks.UNKNOWN_CHOICE)
    deps = deps_of(context)
    click = clicks.Click.of(body, context, key_of_block(action.get("block_id")))
    budget = budget_of(context).after_ack()
    try:
        budget.check()
        if what in ("vote", "down"):
            text = clicks.vote(click, index, deps, direction=1 if what == "vote" else -1)
        elif what == "shortlist":
            text = clicks.shortlist(click, index, deps)
        else:
            text = clicks.ask_more(click, what, index, deps, budget)
    except (RedisError, TNaaSError) as err:
        log.warning("team %s: a menu choice (%s) by %s failed (%s)", click.team, what, click.user, err)
        text = NOT_DONE
    _say(respond, text)


def _home_again(deps, team: str, user: str, enterprise: str | None) -> None:
    """Publish the person's Home tab again, now that its shortlist changed."""
    with suppress(Busy):
        enqueue_home(deps.connection, HomeJob(team=team, user=user, enterprise=enterprise), deps.settings)


def remove_button(ack, body: dict, action: dict, context) -> None:
    """Remove on the Home tab: the name goes from the team's shortlist (gone already: nothing happens)."""
    ack()
    deps, team, user = deps_of(context), context.team_id or "", (body.get("user") or {}).get("id") or ""
    corpus, _, name = (action.get("value") or "").partition(" ")
    if not (team and user and corpus and name):
        return
    try:
        Shortlists(deps.connection).remove(team, name, corpus)
        _home_again(deps, team, user, context.enterprise_id)
    except RedisError as err:
        log.warning("team %s: a shortlist removal by %s failed (%s)", team, user, err)


def export_button(ack, body: dict, context) -> None:
    """Export on the Home tab: a worker sends the team's shortlist to the clicker as a CSV file."""
    ack()
    deps, team, user = deps_of(context), context.team_id or "", (body.get("user") or {}).get("id") or ""
    if not (team and user):
        return
    try:
        enqueue_shortlist_export(
            deps.connection, HomeJob(team=team, user=user, enterprise=context.enterprise_id), deps.settings
        )
    except (RedisError, Busy) as err:
        log.warning("team %s: a shortlist export for %s was not queued (%s)", team, user, err)
