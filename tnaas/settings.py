"""Every setting in one place, read from the environment (prefix ``TNAAS_``) or a ``.env`` file."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TNAAS_", env_file=".env", extra="ignore")

    artifacts_dir: Path = Field(Path("artifacts"), description="where `tnaas train` writes models")
    default_model: str = Field("kn5", description="model used when a request names none")
    default_n: int = Field(5, ge=1, description="names per request when none is asked for")
    default_corpus: str = Field("pypi", description="corpus for a pattern that names none (`***ly`)")
    max_n: int = Field(20, ge=1, description="most names one request may ask for")
    log_level: str = Field("INFO", description="logging level")

    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "TNAAS_REDIS_URL"),
        description="Redis to use; unset: start an embedded redis-server",
    )
    data_dir: Path = Field(Path("data"), description="embedded Redis keeps its append-only file here")
    host: str = Field("127.0.0.1", description="address the web process binds")
    port: int = Field(8000, description="port of the web process")
    workers: int = Field(2, ge=1, description="worker processes `tnaas up` starts")
    queue: str = Field("tnaas", description="RQ queue name")
    max_queue: int = Field(200, ge=1, description="jobs waiting above this: answer 'busy' instead of queueing")
    queue_ttl: int = Field(30, ge=1, description="seconds a job may wait for a worker before it is dropped as stale")
    job_timeout: int = Field(20, ge=1, description="seconds a job may run")
    result_ttl: int = Field(600, description="seconds a result is kept")
    failure_ttl: int = Field(7 * 24 * 3600, description="seconds a failed job is kept for inspection")
    retries: int = Field(2, ge=0, description="retries of a job whose worker died or that failed unexpectedly")

    slack_bot_token: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN", "TNAAS_SLACK_BOT_TOKEN"),
        description="xoxb- token; unset: the web process runs without Slack",
    )
    slack_signing_secret: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "TNAAS_SLACK_SIGNING_SECRET"),
        description="verifies that requests come from Slack",
    )
    slack_app_token: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", "TNAAS_SLACK_APP_TOKEN"),
        description="xapp- token: use Socket Mode instead of HTTP",
    )
    slack_client_id: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_CLIENT_ID", "TNAAS_SLACK_CLIENT_ID"),
        description="with SLACK_CLIENT_SECRET: any workspace can install the app (/slack/install)",
    )
    slack_client_secret: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_CLIENT_SECRET", "TNAAS_SLACK_CLIENT_SECRET"),
        description="the app's client secret (OAuth install and token rotation)",
    )
    slack_redirect_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_REDIRECT_URI", "TNAAS_SLACK_REDIRECT_URI"),
        description="https://YOUR-HOST/slack/oauth_redirect, if the app lists more than one redirect URL",
    )
    retention_days: int = Field(
        365, ge=1, description="days votes and the requests they belong to are kept (Slack and the page)"
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (tests point it at a stand-in)"
    )
    rerank_pool: int = Field(100, ge=1, le=1000, description="candidates sampled per request; the best n are shown")
    explore: float = Field(0.2, ge=0, le=1, description="share of shown names picked at random from the pool")
    api_token: str | None = Field(None, description="if set, /api/* requires `Authorization: Bearer <token>`")
    cors_origins: list[str] = Field(
        default_factory=list, description='origins allowed to call the API from a browser, e.g. ["https://x.y"]'
    )
    api_wait: int = Field(
        5, ge=1, le=25, description="seconds the API waits for an answer before returning a tracking id"
    )
    user_rate: int = Field(30, ge=1, description="requests per user (web: per address) per minute")
    team_rate: int = Field(120, ge=1, description="requests per workspace per minute")

    @property
    def slack_oauth(self) -> bool:
        """Installable by any workspace (Bolt's OAuth flow), rather than one workspace's token."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and (self.slack_bot_token or self.slack_oauth))

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 24 * 3600


@cache
def get_settings() -> Settings:
    return Settings()
