"""The message shortcut "Names like this": names like a word of the message, answered in the message's
thread. The shortcut's payload carries the message, so no history scope is needed; the request is the
typed `like WORD`, rate limits included.

A message of one word is answered at once. A message of several opens a small modal (``views.open``,
within Slack's 3 s trigger window) to pick the word, the first preselected; the message it was opened
on is in the view's private_metadata (``MessageRef``), checked on submission: metadata that is not ours,
or of another team or person, is answered under the picker and does nothing. The submission's ack shows
"Working on it…" in the modal; the job that posts the names then shows what it did (``views.update``)."""

from __future__ import annotations

import logging
import re

from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError

from bot.slack.commands import handle_command, handle_text, parse_for_team
from bot.slack.deps import budget_of, deps_of
from bot.slack.grammar import words_to_start_from
from bot.slack.messages import (
    WORD_FIELD,
    MessageRef,
    picked_word,
    word_modal,
    word_state_view,
    working_text,
)
from bot.slack.web_api import error_code
from core.errors import TNaaSError
from core.limits import SLACK_WORD_CHOICES
from jobs.contracts import ReplyTo
from store.events import SeenEvents

log = logging.getLogger(__name__)
NO_WORD = "That message has no word I can start from: try `/techname like kafka`."
NOT_OURS = "I can't tell which message this was for: use “Names like this” on the message again."
TRY_AGAIN = "I could not take that right now: try again in a minute."
VIEW_ID = re.compile(r"V[A-Z0-9]{1,20}")
MAX_ERROR = 150  # characters Slack shows under a modal's input


def names_like_this(ack, shortcut: dict, respond, client, context) -> None:
    ack()
    message = shortcut.get("message") or {}
    words = words_to_start_from(message.get("text") or "", SLACK_WORD_CHOICES)
    user, team = (shortcut.get("user") or {}).get("id") or "", context.team_id or ""
    channel = (shortcut.get("channel") or {}).get("id") or ""
    ts = message.get("thread_ts") or message.get("ts") or ""
    if len(words) > 1 and open_word_picker(client, shortcut.get("trigger_id") or "", words, team, user, channel, ts):
        return
    text = NO_WORD
    if words and user and team and channel and ts:
        reply = ReplyTo(
            kind="mention", channel=channel, user=user, thread_ts=ts, team=team, enterprise=context.enterprise_id
        )
        text = handle_text(f"like {words[0]}", team, reply, deps_of(context), budget_of(context).after_ack())
    if text:
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception as err:
            log.warning("could not answer a message shortcut privately: %s", err)


def open_word_picker(client, trigger_id: str, words: list[str], team: str, user: str, channel: str, ts: str) -> bool:
    """The word picker for the message; False when it cannot be opened (an expired trigger, a message
    reference we would not accept back): then the first word is answered at once."""
    ref = MessageRef(team=team, user=user, channel=channel, ts=ts)
    try:
        MessageRef.of(ref.metadata())
        client.views_open(trigger_id=trigger_id, view=word_modal(words, ref))
        return True
    except ValueError:
        return False
    except SlackApiError as err:
        log.warning("team %s: the word picker did not open: %s", team, error_code(err))
        return False


def word_submitted(ack, body: dict, view: dict, context) -> None:
    """The picked word as `like WORD`, queued to be answered in the message's thread; the modal then says
    "Working on it…". A view submitted again (Slack's retry, a double click) is queued once."""
    deps = deps_of(context)
    user, team = (body.get("user") or {}).get("id") or "", context.team_id or ""
    try:
        ref = MessageRef.of(view.get("private_metadata"))
    except ValueError as err:
        log.warning("team %s: a word picker submission by %s was refused: %s", team, user, err)
        return ack(response_action="errors", errors={WORD_FIELD: NOT_OURS})
    if ref.team != team or ref.user != user or view.get("team_id", team) != team:
        log.warning(
            "team %s: a word picker of team %s, user %s submitted by %s was refused", team, ref.team, ref.user, user
        )
        return ack(response_action="errors", errors={WORD_FIELD: NOT_OURS})
    word = picked_word((view.get("state") or {}).get("values") or {})
    view_id = view.get("id") if isinstance(view.get("id"), str) and VIEW_ID.fullmatch(view["id"]) else None
    working = word_state_view(working_text(word), ref)
    try:
        command = parse_for_team(f"like {word}", team, deps)
        if view_id and not SeenEvents(deps.connection).first_time(f"view:{view_id}"):
            return ack(response_action="update", view=working)
    except TNaaSError as err:
        return ack(response_action="errors", errors={WORD_FIELD: str(err)[:MAX_ERROR]})
    except RedisError as err:
        log.warning("team %s: a word picker submission by %s was not queued (%s)", team, user, err)
        return ack(response_action="errors", errors={WORD_FIELD: TRY_AGAIN})
    reply = ReplyTo(
        kind="mention",
        channel=ref.channel,
        user=user,
        thread_ts=ref.ts,
        team=team,
        enterprise=context.enterprise_id,
        view=view_id,
    )
    problem = handle_command(command, team, reply, deps, budget_of(context))
    if problem:
        return ack(response_action="errors", errors={WORD_FIELD: problem[:MAX_ERROR]})
    ack(response_action="update", view=working)
