"""Slack installations (one per workspace that installed the app) and OAuth states, in our Redis.

``RedisInstallationStore`` implements slack_sdk's ``InstallationStore``, so Bolt's OAuth flow saves
into it, Bolt's authorization reads from it, Bolt's ``tokens_revoked`` / ``app_uninstalled`` listeners
delete from it, and the workers find each team's bot token in it. ``RedisOAuthStateStore`` implements
``OAuthStateStore``: a state is issued at /slack/install and consumed once at /slack/oauth_redirect.
Records are JSON of the slack_sdk objects, as slack_sdk's own file store writes them.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from store.shortlists import Shortlists
from store.team_corpora import TeamCorpora, corpus_id, team_owner
from store.votes import VoteStore

log = logging.getLogger(__name__)
NONE = "-"  # an absent enterprise or team id in a key


class RedisInstallationStore(InstallationStore):
    INSTALLATION_KEY = "tnaas:slack:installation:{enterprise}:{team}"  # the workspace's latest installation
    INSTALLER_KEY = "tnaas:slack:installation:{enterprise}:{team}:user:{user}"  # the latest by this installer
    BOT_KEY = "tnaas:slack:bot:{enterprise}:{team}"
    TEAMS_KEY = "tnaas:slack:teams"  # "enterprise:team" of every workspace with a bot
    ROTATION_LOCK_KEY = "tnaas:slack:rotation:{enterprise}:{team}"

    def __init__(self, connection: Redis):
        self.redis = connection

    @property
    def logger(self) -> logging.Logger:
        return log

    @staticmethod
    def _ids(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> dict:
        return {"enterprise": enterprise_id or NONE, "team": NONE if is_enterprise_install else team_id or NONE}

    def save(self, installation: Installation) -> None:
        ids = self._ids(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        entity = json.dumps(installation.__dict__)
        with self.redis.pipeline() as pipe:
            pipe.set(self.INSTALLATION_KEY.format(**ids), entity)
            pipe.set(self.INSTALLER_KEY.format(**ids, user=installation.user_id or NONE), entity)
            pipe.execute()
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        if bot.bot_token is None:
            return
        ids = self._ids(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        with self.redis.pipeline() as pipe:
            pipe.set(self.BOT_KEY.format(**ids), json.dumps(bot.__dict__))
            pipe.sadd(self.TEAMS_KEY, f"{ids['enterprise']}:{ids['team']}")
            pipe.execute()

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        raw = self.redis.get(self.BOT_KEY.format(**self._ids(enterprise_id, team_id, is_enterprise_install)))
        return Bot(**json.loads(raw)) if raw else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        ids = self._ids(enterprise_id, team_id, is_enterprise_install)
        key = self.INSTALLER_KEY.format(**ids, user=user_id) if user_id else self.INSTALLATION_KEY.format(**ids)
        raw = self.redis.get(key)
        if not raw:
            return None
        installation = Installation(**json.loads(raw))
        bot = self.find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install)
        if bot is not None and bot.bot_token != installation.bot_token:  # the bot token was rotated since
            installation.bot_token, installation.bot_refresh_token = bot.bot_token, bot.bot_refresh_token
            installation.bot_token_expires_at, installation.bot_scopes = bot.bot_token_expires_at, bot.bot_scopes
        return installation

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        ids = self._ids(enterprise_id, team_id, False)
        with self.redis.pipeline() as pipe:
            pipe.delete(self.BOT_KEY.format(**ids))
            pipe.srem(self.TEAMS_KEY, f"{ids['enterprise']}:{ids['team']}")
            pipe.execute()

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        ids = self._ids(enterprise_id, team_id, False)
        if user_id:
            self.redis.delete(self.INSTALLER_KEY.format(**ids, user=user_id))
            return
        keys = [self.INSTALLATION_KEY.format(**ids)]
        keys += list(self.redis.scan_iter(match=self.INSTALLER_KEY.format(**ids, user="*"), count=500))
        self.redis.delete(*keys)
        if team_id:  # the app uninstalled (Bolt's app_uninstalled listener): the team's shortlist goes with it,
            Shortlists(self.redis).forget_team(team_id)  # and its own corpora with every name shown from them
            owner = team_owner(team_id)
            for slug in TeamCorpora(self.redis).forget_owner(owner):
                VoteStore(self.redis).forget_corpus(corpus_id(owner, slug))

    def teams(self) -> list[str]:
        """ "enterprise:team" of every workspace that has a bot installed (``-`` for none)."""
        return sorted(t.decode() for t in self.redis.smembers(self.TEAMS_KEY))

    @contextmanager
    def rotation_lock(self, enterprise_id: str | None, team_id: str | None, timeout: float = 15) -> Iterator[None]:
        """Slack's refresh tokens are single-use: one process at a time rotates a workspace's token."""
        name = self.ROTATION_LOCK_KEY.format(**self._ids(enterprise_id, team_id, False))
        with self.redis.lock(name, timeout=timeout, blocking_timeout=timeout):
            yield


class RedisOAuthStateStore(OAuthStateStore):
    """The OAuth ``state`` parameter: issued once, consumed once, within ``expiration_seconds``."""

    PREFIX = "tnaas:slack:oauth_state:"

    def __init__(self, connection: Redis, expiration_seconds: int = 600):
        self.redis = connection
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    def issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(24)
        self.redis.set(f"{self.PREFIX}{state}", 1, ex=self.expiration_seconds)
        return state

    def consume(self, state: str) -> bool:
        return self.redis.getdel(f"{self.PREFIX}{state}") is not None
