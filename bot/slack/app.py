"""The Bolt app: built from settings, listeners registered; served by ``bot.slack.endpoint``.

Two ways to connect, both served by the same listeners and workers:
- one workspace: SLACK_BOT_TOKEN (and SLACK_SIGNING_SECRET), as before;
- any workspace: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET turn on Bolt's OAuth flow (``/slack/install``,
  ``/slack/oauth_redirect``) with installations and OAuth states in our Redis
  (``store.installations``); Bolt authorizes each request with the team's installation, rotates
  expiring tokens (under the same lock as the workers), and deletes an installation when Slack sends
  ``tokens_revoked`` or ``app_uninstalled``. A SLACK_BOT_TOKEN given as well keeps its workspace working.

With one workspace's token, Bolt would answer any team's event with it: events of another team (one
that never installed the app) are ignored and logged. With OAuth, Bolt finds no installation for such
a team and does the same.
"""

from __future__ import annotations

import logging
import time

from redis import Redis
from redis.exceptions import RedisError
from slack_bolt import App, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot

from bot.slack import listeners
from bot.slack.deps import KEY, SlackDeps
from bot.slack.listeners.votes import NOT_COUNTED
from bot.slack.web_api import rotated_installation
from core.errors import Unavailable
from core.limits import SLACK_TOKEN_ROTATION_MINUTES
from core.observability import ContextThreadPool
from core.settings import Settings
from store.installations import RedisInstallationStore, RedisOAuthStateStore

log = logging.getLogger(__name__)
HOW_TO_CONNECT = (
    "Slack is not connected: create the app from manifest.yml, install it, then set SLACK_BOT_TOKEN and "
    "SLACK_SIGNING_SECRET (and SLACK_APP_TOKEN for Socket Mode), or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
    "SLACK_SIGNING_SECRET to let any workspace install it. See the README's Slack section."
)
# What the app asks a workspace for: the least that the listeners and the replies use (manifest.yml lists
# the same; a test keeps them equal).
BOT_SCOPES = [
    "commands",  # /techname
    "chat:write",  # replies
    "chat:write.public",  # replies in public channels the bot has not joined
    "app_mentions:read",  # @tnaas
    "im:history",  # direct messages to the bot
    "reactions:read",  # keycap votes
    "reactions:write",  # seeding the keycaps
    "files:write",  # the team's shortlist exported as a CSV file, sent by direct message
    "files:read",  # a corpus uploaded as a file in the "Add a corpus" form, fetched by a worker
]


class LockedRotationAuthorize(InstallationStoreAuthorize):
    """Bolt's authorization from the installation store, rotating tokens the way the workers do:
    under the workspace's lock, re-reading first (Slack's refresh tokens are single-use)."""

    def _rotate_and_save_tokens_if_necessary(self, installation):
        if installation is None or self.token_rotator is None:
            return super()._rotate_and_save_tokens_if_necessary(installation)
        return rotated_installation(self.installation_store, self.token_rotator, installation)


def create_slack_app(settings: Settings, connection: Redis) -> App:
    """Bolt verifies each request's signature and age (401 otherwise); we never turn that off."""
    deps = SlackDeps(connection, settings)
    if settings.slack_oauth:
        app = _installable_app(settings, connection)
    else:
        client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
        app = App(
            token=settings.slack_bot_token,
            signing_secret=settings.slack_signing_secret,
            client=client,
            listener_executor=ContextThreadPool(max_workers=5),  # listeners log and enqueue under the request's id
        )

    @app.use
    def provide_deps(context, next):
        context[KEY] = deps
        next()

    if not settings.slack_oauth:
        app.use(only_the_tokens_team)
    app.error(when_redis_fails)
    listeners.register(app)
    return app


def only_the_tokens_team(context, body, next):
    """With one workspace's token, an event, a shortcut or a form submission of another team (Bolt would answer it
    with that token, or keep a corpus for it) is acknowledged and ignored: the app is not installed there.
    The token's team is auth.test's, which Bolt asked on its first request."""
    own = context.authorize_result.team_id if context.authorize_result else None
    if (
        body.get("type") in ("event_callback", "view_submission", "shortcut", "message_action")
        and own
        and context.team_id
        and context.team_id != own
    ):
        log.warning("an event of team %s, where the app is not installed, was ignored", context.team_id)
        return BoltResponse(status=200, body="")
    next()


def when_redis_fails(error, body, request, response) -> BoltResponse | None:
    """Bolt's error handler. A Redis failure that no listener caught (with OAuth: finding the
    workspace's installation) is never Slack's generic failure: a slash command's ack says to try again,
    an event is not acknowledged (Slack sends it again later; there is no token to tell its user with),
    a click is told through its response_url. Anything else is logged, and Bolt answers 500."""
    if not isinstance(error, RedisError):
        log.exception("Slack request failed: %r", error)
        return None
    log.warning("Redis failed a Slack request before its listener (%s)", error)
    if "command" in body:  # as Bolt's ack(text=...): a plain text body, shown to its user alone
        return BoltResponse(status=200, body=str(Unavailable()))
    if body.get("type") == "event_callback":
        return BoltResponse(status=503, body="")
    if request.context.respond is not None:
        try:
            request.context.respond(text=NOT_COUNTED, response_type="ephemeral", replace_original=False)
        except Exception as err:
            log.warning("could not tell a clicker their vote was not counted: %s", err)
    return BoltResponse(status=200, body="")


def _installable_app(settings: Settings, connection: Redis) -> App:
    store = RedisInstallationStore(connection)
    client = WebClient(base_url=settings.slack_api_url)
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=BOT_SCOPES,
        redirect_uri=settings.slack_redirect_uri,
        installation_store=store,
        state_store=RedisOAuthStateStore(connection),
        token_rotation_expiration_minutes=SLACK_TOKEN_ROTATION_MINUTES,
    )
    authorize = LockedRotationAuthorize(
        logger=log,
        installation_store=store,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        token_rotation_expiration_minutes=SLACK_TOKEN_ROTATION_MINUTES,
        client=client,
    )
    app = App(
        signing_secret=settings.slack_signing_secret,
        client=client,
        oauth_settings=oauth,
        authorize=authorize,
        listener_executor=ContextThreadPool(max_workers=5),  # listeners log and enqueue under the request's id
    )
    app.enable_token_revocation_listeners()
    if settings.slack_bot_token:
        keep_token_workspace(store, client, settings.slack_bot_token)
    return app


def keep_token_workspace(store: RedisInstallationStore, client: WebClient, token: str) -> None:
    """SLACK_BOT_TOKEN's workspace keeps working next to OAuth installs: saved as that team's bot,
    unless the team has installed the app through OAuth since."""
    try:
        me = client.auth_test(token=token)
    except SlackApiError as err:
        log.error("SLACK_BOT_TOKEN was refused by Slack (%s): its workspace is not served", err.response.get("error"))
        return
    if store.find_bot(enterprise_id=me.get("enterprise_id"), team_id=me["team_id"]) is None:
        store.save_bot(
            Bot(
                enterprise_id=me.get("enterprise_id"),
                team_id=me["team_id"],
                team_name=me.get("team"),
                bot_token=token,
                bot_id=me["bot_id"],
                bot_user_id=me["user_id"],
                installed_at=time.time(),
            )
        )
