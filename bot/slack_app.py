"""The Bolt app: built from settings, listeners registered, served at /slack/events or Socket Mode."""

from __future__ import annotations

from redis import Redis
from slack_bolt import App
from slack_sdk import WebClient

from bot import listeners
from bot.listeners.deps import KEY, SlackDeps
from tnaas.settings import Settings

HOW_TO_CONNECT = (
    "Slack is not connected: create the app from manifest.yml, install it, then set SLACK_BOT_TOKEN and "
    "SLACK_SIGNING_SECRET (and SLACK_APP_TOKEN for Socket Mode). See the README."
)


def create_slack_app(settings: Settings, connection: Redis) -> App:
    """Bolt verifies each request's signature and age (401 otherwise); we never turn that off."""
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    app = App(token=settings.slack_bot_token, signing_secret=settings.slack_signing_secret, client=client)
    deps = SlackDeps(connection, settings)

    @app.use
    def provide_deps(context, next):
        context[KEY] = deps
        next()

    listeners.register(app)
    return app
