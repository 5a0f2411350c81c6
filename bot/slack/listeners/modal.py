"""The "Name something" modal: the global shortcut and `/techname` with no text open it (``views.open``
within Slack's 3 s trigger window, before any other work); its submission becomes the command the form
stands for, read by the same grammar, queued like a typed one and posted where chosen."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError

from bot.slack.commands import handle_command, parse_for_team
from bot.slack.deps import SlackDeps, budget_of, deps_of
from bot.slack.messages import modal_command, name_modal
from bot.slack.web_api import error_code
from core.errors import TNaaSError
from core.model_names import default_models
from corpora import corpus_names
from jobs.contracts import ReplyTo
from store.events import SeenEvents
from store.team_corpora import TeamCorpora, team_owner

log = logging.getLogger(__name__)
MAX_ERROR = 150  # characters Slack shows under a modal's input
NOT_THIS_TEAM = "This form was opened in another workspace: open “Name something” again here."


def open_name_modal(client, trigger_id: str, channel: str | None, deps: SlackDeps, team: str) -> bool:
    """Open the form; False when Slack refused (an expired trigger, a lost token): logged."""
    settings = deps.settings
    view = name_modal(
        corpus_names(), default_models(), settings.default_n, settings.max_n, channel, own_corpora(deps, team)
    )
    try:
        client.views_open(trigger_id=trigger_id, view=view)
        return True
    except SlackApiError as err:
        log.warning("the name modal did not open: %s", error_code(err))
        return False


def own_corpora(deps: SlackDeps, team: str) -> list[str]:
    """The team corpora ``team`` may ask for (its own, the operator's) that are trained: one Redis read,
    skipped when Redis fails (the form still opens, with the built-in corpora)."""
    if not team:
        return []
    try:
        visible = TeamCorpora(deps.connection).visible(team_owner(team))
    except RedisError as err:
        log.warning("team %s: the name modal opens without its own corpora (%s)", team, err)
        return []
    return [slug for slug, (_, state) in visible.items() if state.get("status") == "ready"]


def name_something_shortcut(ack, shortcut: dict, client, context) -> None:
    ack()
    open_name_modal(client, shortcut.get("trigger_id") or "", None, deps_of(context), context.team_id or "")


def name_something_submitted(ack, body: dict, view: dict, context) -> None:
    """The form's values as a command: a problem goes back under its input (the modal stays open); a
    view submitted again (the same view id) is acknowledged and does nothing more."""
    deps = deps_of(context)
    text, where = modal_command((view.get("state") or {}).get("values") or {})
    user, team = (body.get("user") or {}).get("id") or "", context.team_id or ""
    if view.get("team_id", team) != team:  # a view of another workspace: nothing of it is ours to post
        log.warning("team %s: a name modal of team %s submitted by %s was refused", team, view.get("team_id"), user)
        return ack(response_action="errors", errors={"corpus": NOT_THIS_TEAM})
    if not where or not user or not team:
        return ack(response_action="errors", errors={"where": "Pick a conversation to post the names in."})
    field = "like" if text.startswith("like ") else "pattern" if "*" in text else "corpus"
    try:
        command = parse_for_team(text, team, deps)
        if not SeenEvents(deps.connection).first_time(f"view:{view.get('id')}"):
            return ack()
    except TNaaSError as err:
        return ack(response_action="errors", errors={field: str(err)[:MAX_ERROR]})
    except RedisError as err:
        log.warning("team %s: a modal submission by %s was not queued (%s)", team, user, err)
        return ack(
            response_action="errors", errors={"corpus": "I could not take that right now: try again in a minute."}
        )
    reply = ReplyTo(kind="slash", channel=where, user=user, team=team, enterprise=context.enterprise_id)
    problem = handle_command(command, team, reply, deps, budget_of(context))
    if problem:
        return ack(response_action="errors", errors={field: problem[:MAX_ERROR]})
    ack()
