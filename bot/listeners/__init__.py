"""Slack listeners: each acks, hands the work on, returns. ``register`` wires them to the app.

They read what they need (Redis, settings) from the request context, where ``bot.slack_app``'s
middleware puts a ``SlackDeps``; the logic lives in plain functions (``bot.commands``, the store).
"""

from __future__ import annotations

import re

from slack_bolt import App

from bot.listeners.app_home import app_home_opened
from bot.listeners.app_mention import app_mention
from bot.listeners.direct_message import direct_message
from bot.listeners.reactions import reaction_added, reaction_removed
from bot.listeners.techname import techname
from bot.listeners.votes import vote_button
from jobs.slack_messages import VOTE_ACTION


def register(app: App) -> None:
    app.command("/techname")(techname)
    app.event("app_mention")(app_mention)
    app.event("message")(direct_message)
    app.event("reaction_added")(reaction_added)
    app.event("reaction_removed")(reaction_removed)
    app.event("app_home_opened")(app_home_opened)
    app.action(re.compile(rf"^{VOTE_ACTION}_\d+$"))(vote_button)
