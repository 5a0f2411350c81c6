"""Slack listeners: each acks, hands the work on, returns. ``register`` wires them to the app.

They read what they need (Redis, settings) from the request context, where ``bot.slack.app``'s
middleware puts a ``SlackDeps``; the logic lives in plain functions (``bot.slack.commands``, the store).
"""

from __future__ import annotations

import re

from slack_bolt import App

from bot.slack.listeners.app_home import add_corpus_button, app_home_opened, remove_corpus_button
from bot.slack.listeners.app_mention import app_mention
from bot.slack.listeners.candidates import candidate_menu, export_button, remove_button, shortlist_button
from bot.slack.listeners.corpus import corpus_submitted
from bot.slack.listeners.direct_message import direct_message
from bot.slack.listeners.modal import name_something_shortcut, name_something_submitted
from bot.slack.listeners.names_like_this import names_like_this, word_submitted
from bot.slack.listeners.reactions import reaction_added, reaction_removed
from bot.slack.listeners.techname import techname
from bot.slack.listeners.votes import vote_button
from bot.slack.listeners.workflow_step import STEP, suggest_names
from bot.slack.messages import (
    CORPUS_ADD_ACTION,
    CORPUS_MODAL,
    CORPUS_REMOVE_ACTION,
    EXPORT_ACTION,
    MORE_ACTION,
    NAME_MODAL,
    NAMES_LIKE_THIS,
    REMOVE_ACTION,
    SHORTLIST_ACTION,
    VOTE_ACTION,
    WORD_MODAL,
)


def register(app: App) -> None:
    app.command("/techname")(techname)
    app.event("app_mention")(app_mention)
    app.event("message")(direct_message)
    app.event("reaction_added")(reaction_added)
    app.event("reaction_removed")(reaction_removed)
    app.event("app_home_opened")(app_home_opened)
    app.action(re.compile(rf"^{VOTE_ACTION}_\d+$"))(vote_button)
    app.action(re.compile(rf"^{SHORTLIST_ACTION}_\d+$"))(shortlist_button)
    app.action(re.compile(rf"^{MORE_ACTION}_\d+$"))(candidate_menu)
    app.action(re.compile(rf"^{REMOVE_ACTION}_\d+$"))(remove_button)
    app.action(EXPORT_ACTION)(export_button)
    app.action(CORPUS_ADD_ACTION)(add_corpus_button)
    app.action(re.compile(rf"^{CORPUS_REMOVE_ACTION}_\d+$"))(remove_corpus_button)
    app.shortcut(NAME_MODAL)(name_something_shortcut)
    app.view(NAME_MODAL)(name_something_submitted)
    app.view(CORPUS_MODAL)(corpus_submitted)
    app.shortcut(NAMES_LIKE_THIS)(names_like_this)
    app.view(WORD_MODAL)(word_submitted)
    app.function(STEP)(suggest_names)
