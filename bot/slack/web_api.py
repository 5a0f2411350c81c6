"""The workers' way to Slack: each workspace's bot token, a Web API client that waits out short rate
limits, and Slack's error codes sorted by what a reply does about them.

Every Slack error code the bot handles, and how (the rest fail the job, rq retries it, and a job that
fails for good tells its user privately; see ``bot.slack.tasks.tell_users_it_failed``):

| codes | meaning | what the reply does |
| --- | --- | --- |
| ``not_in_channel``, ``channel_not_found``, ``is_archived``, ``restricted_action*``, ``cannot_reply_to_message``, ``user_not_in_channel`` | the bot cannot post there | slash command: the answer goes through the command's response_url instead (join-free, in the channel); else by direct message to the user |
| ``invalid_auth``, ``not_authed``, ``token_revoked``, ``token_expired``, ``account_inactive``, ``missing_scope``, ``no_permission``, ``team_access_not_granted``, ``not_allowed_token_type``, ``ekm_access_denied`` | the workspace's token no longer works | the user is told through the response_url (it needs no token) to have the app reinstalled; logged for the operator; no retry |
| ``ratelimited`` (HTTP 429) | over the method's tier | waited out in the call when ``Retry-After`` is at most ``SLACK_MAX_RETRY_WAIT`` s; a reaction seed stops and the team's seeds pause for that long; a post fails the job for rq to retry, continuing where it stopped |
| ``already_reacted`` | a rerun seeding again | counts as done |
| ``message_not_found``, ``too_many_reactions``, ``invalid_name``, ``no_item_specified``, ``not_reactable``, ``thread_locked`` | a seed cannot be added | seeding stops; the vote buttons remain |
| views.update: ``not_found`` (the person closed the modal), ``hash_conflict`` (the view changed since we read its hash), ``view_too_large``, ``invalid_arguments``, ``duplicate_external_id``, the lost-token codes, ``ratelimited`` past a short wait, ``fatal_error``, ``internal_error``, ``request_timeout``, ``service_unavailable``, ``accesslimited``, any other | a modal's "Working on it…" / done state cannot be shown | logged, the modal keeps what it showed; the answer itself is posted (or was) and the job goes on: a view is never worth a retry |
| ``not_enabled`` (views.publish) | the Home tab is off in the app's settings | logged, nothing else |
| ``invalid_blocks``, ``msg_blocks_too_long`` (messages), ``invalid_arguments`` (views) | Block Kit past Slack's limits | never sent: every message and view is built within them (a big reply goes compact; ``tests/test_block_kit.py``) |
| files_upload_v2 (``files.getUploadURLExternal``, the upload, ``files.completeUploadExternal``): the lost-token codes, ``missing_scope``, the cannot-post-here codes | the shortlist's CSV cannot be sent | logged, the job ends (no retry); ``file_not_found``, ``file_upload_size_mismatch``, an upload that is not 200: the job fails and rq retries it |
| functions.completeSuccess / completeError: ``function_execution_not_found``, ``execution_not_in_running_state``, ``invalid_function_execution_id``, ``access_denied``, the lost-token codes | the workflow step's execution is over (a rerun completing again) or cannot be reached | logged, the job ends (no retry) |
| functions.completeSuccess ``parameter_validation_failed`` | Slack refuses the step's outputs | the step is completed with an error in words instead |
| functions.completeError from the listener (a full queue: Bolt's ``fail``), any code | the step cannot be failed now | logged; the workflow shows the step timed out |
| response_url ``expired_url``, ``used_url``, ``channel_is_archived``, other non-200 | the response_url cannot be used | the user gets a direct message |
| files.info (a corpus file from the "Add a corpus" form): ``file_not_found``, ``file_deleted`` | the file is gone | its submitter is told by direct message; nothing kept, no retry |
| files.info: ``access_denied``, ``no_permission``, ``org_login_required``, ``team_access_not_granted``; a file of another workspace or an external one | the workspace may not read it | as above |
| files.info: the lost-token codes (``missing_scope``: an install from before ``files:read``) | the file cannot be read with this token | as above, asking for the app to be reinstalled; logged for the operator |
| files.info: any other code (a 429 longer than ``SLACK_MAX_RETRY_WAIT``, ``internal_error``) | Slack cannot answer now | the job fails, rq retries it; its last failure tells the submitter |
| the file's download (``url_private_download``, bearer token): a redirect (Slack's sign-in page), an HTTP error, a web page instead of the file, more than 2 MB, more than ``TEAM_CORPUS_FILE_SECONDS`` | Slack does not hand the file over, or it is too big | its submitter is told by direct message; nothing kept, no retry |
| OAuth ``invalid_refresh_token``, ``invalid_client_id``, ``bad_client_secret`` | a token cannot be rotated | as a lost token (above) |
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.token_rotation import TokenRotator

from core.limits import SLACK_MAX_RETRY_WAIT, SLACK_TOKEN_ROTATION_MINUTES
from core.settings import Settings
from store.installations import RedisInstallationStore

log = logging.getLogger(__name__)

NOT_HERE = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "cannot_reply_to_message",
    "user_not_in_channel",
}
LOST_ACCESS = {
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "missing_scope",
    "no_permission",
    "team_access_not_granted",
    "not_allowed_token_type",
    "ekm_access_denied",
    "not_installed",  # ours: no installation and no SLACK_BOT_TOKEN for the workspace
}
RATE_LIMITED = "ratelimited"
SEED_DONE = {"already_reacted"}
SEED_STOP = {
    "message_not_found",
    "too_many_reactions",
    "invalid_name",
    "no_item_specified",
    "not_reactable",
    "thread_locked",
}


VIEW_GONE = {"not_found", "hash_conflict"}  # views.update: the modal was closed, or changed by someone else


def error_code(err: SlackApiError) -> str:
    return str((err.response or {}).get("error") or "")


def retry_after(err: SlackApiError) -> int:
    """Slack's ``Retry-After`` on a 429, in seconds (1 if it is missing or unreadable)."""
    headers = {k.lower(): v for k, v in (getattr(err.response, "headers", None) or {}).items()}
    value = headers.get("retry-after")
    value = value[0] if isinstance(value, list) else value
    return int(value) if str(value).isascii() and str(value).isdigit() else 1


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleeps ``Retry-After``, then retries), but only for short waits: a job
    must not sleep through its timeout, and a reaction seed is not worth a minute's wait."""

    def __init__(self, max_retry_count: int = 2, max_wait: int = SLACK_MAX_RETRY_WAIT):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is None or response.status_code != 429:
            return False
        value = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        value = value[0] if isinstance(value, list) else value
        return str(value).isdigit() and int(value) <= self.max_wait


@lru_cache(maxsize=256)
def web_client(token: str | None, base_url: str) -> WebClient:
    """One client per token (rotated tokens get a new one): connection errors and 500/503 retried once,
    short 429s waited out."""
    handlers = [ConnectionErrorRetryHandler(), ServerErrorRetryHandler(), BoundedRateLimitRetryHandler()]
    return WebClient(token=token, base_url=base_url, retry_handlers=handlers)


class NoToken(Exception):
    """No usable bot token for a workspace; ``code`` says why (one of LOST_ACCESS)."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)


class Tokens:
    """Each workspace's bot token: its installation (rotated when it is about to expire), or the
    single-workspace SLACK_BOT_TOKEN."""

    def __init__(self, connection: Redis, settings: Settings):
        self.settings = settings
        self.store = RedisInstallationStore(connection)

    def rotator(self) -> TokenRotator | None:
        if not self.settings.slack_oauth:
            return None
        return TokenRotator(
            client_id=self.settings.slack_client_id,
            client_secret=self.settings.slack_client_secret,
            client=web_client(None, self.settings.slack_api_url),
        )

    def bot_token(self, team: str | None, enterprise: str | None = None) -> str:
        """With OAuth, only the team's own installation (SLACK_BOT_TOKEN's team is saved as one by the web
        process); without, the one token."""
        if not self.settings.slack_oauth:
            if self.settings.slack_bot_token:
                return self.settings.slack_bot_token
            raise NoToken("not_installed")
        bot = self.store.find_bot(enterprise_id=enterprise, team_id=team) if team else None
        if bot is None:
            raise NoToken("not_installed")
        if bot.bot_refresh_token:
            bot = rotated_bot(self.store, self.rotator(), bot)
        return bot.bot_token

    def client(self, team: str | None, enterprise: str | None = None) -> WebClient:
        return web_client(self.bot_token(team, enterprise), self.settings.slack_api_url)


def rotated_bot(store: RedisInstallationStore, rotator: TokenRotator | None, bot: Bot) -> Bot:
    """``bot`` with a token that is not about to expire: rotated (once, under the workspace's lock,
    since refresh tokens are single-use) and saved when needed. NoToken when rotation fails."""
    if bot.bot_token_expires_at and bot.bot_token_expires_at > _soon():
        return bot
    if rotator is None:
        raise NoToken("token_expired")  # a rotating token, but this process has no client secret
    try:
        with store.rotation_lock(bot.enterprise_id, bot.team_id):
            current = store.find_bot(enterprise_id=bot.enterprise_id, team_id=bot.team_id) or bot
            refreshed = rotator.perform_bot_token_rotation(
                bot=current, minutes_before_expiration=SLACK_TOKEN_ROTATION_MINUTES
            )
            if refreshed is None:
                return current  # someone else rotated it while we waited for the lock
            store.save_bot(refreshed)
            log.info("rotated the bot token of team %s", bot.team_id)
            return refreshed
    except SlackTokenRotationError as err:
        log.error("could not rotate the bot token of team %s: %s", bot.team_id, err)
        raise NoToken("token_expired") from err


def rotated_installation(
    store: RedisInstallationStore, rotator: TokenRotator, installation: Installation
) -> Installation | None:
    """Bolt's hook (``bot.slack.app``): the installation with fresh tokens, None when nothing changed.
    The same lock and re-read as the workers, so the web process and the workers never both spend
    the same single-use refresh token."""
    if installation.bot_refresh_token is None and installation.user_refresh_token is None:
        return None
    with store.rotation_lock(installation.enterprise_id, installation.team_id):
        current = (
            store.find_installation(
                enterprise_id=installation.enterprise_id,
                team_id=installation.team_id,
                is_enterprise_install=installation.is_enterprise_install,
            )
            or installation
        )
        refreshed = rotator.perform_token_rotation(
            installation=current, minutes_before_expiration=SLACK_TOKEN_ROTATION_MINUTES
        )
        if refreshed is not None:
            store.save(refreshed)
            return refreshed
        return current if current.bot_token != installation.bot_token else None


def _soon() -> float:
    return time.time() + SLACK_TOKEN_ROTATION_MINUTES * 60


def update_view(client: WebClient, view_id: str, view: dict, view_hash: str | None = None) -> str | None:
    """``views.update`` of an open modal (only if it still has ``view_hash``, when given): the view's new
    hash, or None when Slack refused it, for any reason: a modal's state is never worth failing a job for
    (``VIEW_GONE``: closed or changed meanwhile, told apart in the log)."""
    try:
        updated = client.views_update(view_id=view_id, view=view, hash=view_hash)
        return str((updated.get("view") or {}).get("hash") or "") or None
    except SlackApiError as err:
        code = error_code(err)
        level = logging.INFO if code in VIEW_GONE else logging.WARNING
        log.log(level, "view %s not updated: %s", view_id, code or err)
        return None
