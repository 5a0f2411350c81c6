"""Every setting in one place, read from the environment (prefix ``TNAAS_``) or a ``.env`` file."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.limits import DEFAULT_N, MAX_N


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TNAAS_", env_file=".env", extra="ignore")

    artifacts_dir: Path = Field(Path("artifacts"), description="where `tnaas train` writes models")
    default_model: str = Field("kn5", description="model used when a request names none")
    default_n: int = Field(DEFAULT_N, ge=1, description="names per request when none is asked for")
    default_corpus: str = Field("pypi", description="corpus for a pattern that names none (`***ly`)")
    max_n: int = Field(MAX_N, ge=1, description="most names one request may ask for")
    log_level: str = Field("INFO", description="logging level")
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per line, with the request id that follows a request into its job"
    )

    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "TNAAS_REDIS_URL"),
        description="Redis to use; unset: start an embedded redis-server",
    )
    redis_sentinels: str = Field(
        "",
        pattern=r"^$|^[^,:\s]+:[0-9]+(,[^,:\s]+:[0-9]+)*$",
        description="Redis Sentinel addresses, comma-separated host:port; set: every client asks them for the "
        "primary of redis_service (REDIS_URL then gives only the password and database number)",
    )
    redis_service: str = Field("tnaas", description="the name the sentinels monitor the primary under")
    redis_ack_replicas: int = Field(
        1,
        ge=0,
        description="with sentinels: replicas that must have a vote, an idempotency claim or a Slack reply's step "
        "before it counts as done (WAIT); 0: do not wait",
    )
    redis_ack_timeout: float = Field(
        0.25,
        gt=0,
        le=5,
        description="seconds an acknowledged write waits for its replicas; then it fails, retryable (below the "
        "0.5 s a Slack vote's Redis call may take, so that it says why rather than times out)",
    )
    redis_record_wait: float = Field(
        20.0,
        ge=0,
        le=300,
        description="seconds a worker keeps trying to record a Slack post it has made while Redis is unreachable "
        "(a failover, a restart): an unrecorded post would be posted again by the job's rerun",
    )
    data_dir: Path = Field(Path("data"), description="embedded Redis keeps its append-only file here")
    host: str | None = Field(
        None, description="address the web process binds; unset: 0.0.0.0 under a platform ($PORT set), else 127.0.0.1"
    )
    port: int = Field(8000, description="port of the web process when no $PORT is given")
    platform_port: int | None = Field(
        None,
        validation_alias="PORT",
        description="$PORT, given by platforms and Procfile runners to each process: the web process listens "
        "on it, a worker serves its metrics on it",
    )
    metrics_port: int | None = Field(
        None, description="port a worker serves /metrics on; unset: its $PORT, and without one no metrics server"
    )
    metrics: bool = Field(True, description="record Prometheus metrics (off only to measure what they cost)")
    forwarded_allow_ips: str = Field(
        "",
        description="proxies whose X-Forwarded-For / -Proto the web process believes (comma-separated addresses, "
        "or *); empty: none, the client address is the connection's",
    )
    workers: int = Field(2, ge=1, description="worker processes `tnaas up` starts")
    train_on_up: bool = Field(
        True,
        description="`tnaas up` trains what is missing: first what the first requests need (each corpus' default "
        "model, the judge), then serves, training the rest in the background; off: it serves what `tnaas train` "
        "trained",
    )
    queue: str = Field("tnaas", description="RQ queue name")
    max_queue: int = Field(200, ge=1, description="jobs waiting above this: answer 'busy' instead of queueing")
    queue_ttl: int = Field(
        30, ge=1, description="seconds a job may wait for a worker; later it is answered 'busy, try again' instead"
    )
    job_timeout: int = Field(20, ge=1, description="seconds a job may run")
    heavy_concurrency: int = Field(
        1,
        ge=1,
        description="heavy requests (long patterns, bayes models) queued or running at once in the whole stack; "
        "the rest wait their turn, so the other workers stay free for everyone's quick requests",
    )
    max_heavy_queue: int = Field(20, ge=1, description="heavy requests waiting their turn above this: answer 'busy'")
    complete_budget: int = Field(
        15_000_000,
        ge=1,
        description="the most work (model contexts x letters weighed) one completion may take, about a second of "
        "one core; a pattern over it is refused with a message saying what would work",
    )
    result_ttl: int = Field(600, description="seconds a result is kept")
    failure_ttl: int = Field(7 * 24 * 3600, description="seconds a failed job is kept for inspection")
    retries: int = Field(2, ge=0, description="retries of a job whose worker died or that failed unexpectedly")
    team_corpus_timeout: int = Field(
        120, ge=1, description="seconds training a team's own corpus may run (50,000 names: about 30 on one core)"
    )
    team_corpora_mb: int = Field(
        128,
        ge=1,
        description="MB of Redis every team corpus together may take (lists and trained models; a 1,000-name "
        "corpus takes about 8, a 50,000-name one about 50): keep it well under TNAAS_REDIS_MAXMEMORY",
    )
    team_corpus_memory_mb: int = Field(
        256,
        ge=1,
        description="MB of team corpora one worker keeps loaded; beyond it the least recently used is let go "
        "(loaded again from Redis on its next request)",
    )
    heartbeat: float = Field(
        1.0, gt=0, le=10, description="seconds between a worker's heartbeats (also while it runs a job)"
    )
    worker_silent: int = Field(
        5,
        ge=2,
        description="seconds without a heartbeat after which a worker counts as gone: its running job is retried "
        "(or failed) and it leaves the worker list",
    )
    health_queue_wait: int = Field(
        10, ge=1, description="/healthz is not ready when the oldest waiting job has waited longer than this"
    )
    health_failed_growth: int = Field(
        5, ge=1, description="/healthz is not ready when this many jobs failed within health_failed_window"
    )
    health_failed_window: int = Field(300, ge=10, description="seconds over which failed jobs are counted")
    redis_fsync: Literal["everysec", "always"] = Field(
        "everysec",
        description="the embedded Redis' appendfsync: everysec loses at most about a second of acknowledged writes "
        "on a power cut (none on a process kill); always loses none and costs an fsync per write",
    )
    redis_maxmemory: str = Field(
        "512mb",
        pattern=r"^[0-9]+(kb|mb|gb)?$",
        description="the most memory the embedded Redis (and compose's) may use; beyond it Redis evicts only keys "
        "with a TTL (caches, counters, requests nobody voted on), never votes or installations, and refuses "
        "writes when only those are left",
    )
    restart_healthy_after: float = Field(
        10.0, gt=0, description="`tnaas up`: a child that ran this long has its restart backoff reset"
    )
    restart_max_quick_exits: int = Field(
        5,
        ge=2,
        description="`tnaas up` gives up when a child exits this many times in a row, each within "
        "restart_healthy_after of its start (a crash loop)",
    )

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
    batch_wait: float = Field(
        0.005,
        ge=0,
        le=0.05,
        description="most seconds the web process holds an API request to send it in one job with others of its "
        "kind, while TNAAS_BATCH_IN_FLIGHT requests of that kind are on their way (else it is sent at once)",
    )
    batch_max: int = Field(16, ge=1, le=64, description="most API requests the web process puts in one job")
    batch_in_flight: int = Field(
        2,
        ge=1,
        le=64,
        description="API requests of one kind a web process has on their way before it holds the next "
        "back to batch them (about the number of workers)",
    )
    user_rate: int = Field(
        30,
        ge=1,
        description="requests per person per minute: a Slack user, the page's voter, the API token's holder "
        "(else the address)",
    )
    team_rate: int = Field(120, ge=1, description="requests per Slack workspace per minute")
    vote_rate: int = Field(60, ge=1, description="web votes per minute, per voter")
    address_people: int = Field(
        20,
        ge=1,
        description="people one address may stand for (an office behind one NAT): the web's per-address "
        "flood guard is this many times a person's rate (TNAAS_USER_RATE, TNAAS_VOTE_RATE)",
    )
    secret_key: str | None = Field(
        None,
        description="signs the page's voter cookie; unset: a random key kept in Redis, shared by every web process",
    )

    retention_days: int = Field(
        90, ge=1, description="impressions and votes older than this are purged (they name users and what they typed)"
    )
    retrain_new_votes: int = Field(
        60, ge=1, description="voted impressions since the reranker's training that make the scheduler retrain it"
    )
    upkeep_interval: int = Field(3600, ge=10, description="seconds between the scheduler's upkeep runs")
    learn_interval: int = Field(
        60, ge=10, description="seconds between checks for new votes while the reranker is missing or young"
    )

    # availability: the registries the user's own tools use, unless set here
    pypi_index_url: str | None = Field(
        None, description="PEP 691 simple index to check names on; unset: pip's configured index"
    )
    npm_registry_url: str | None = Field(
        None, description="npm registry to check names on; unset: `npm config get registry`"
    )
    availability_dir: Path | None = Field(
        None, description="where snapshots of all registry names live; unset: <data_dir>/availability"
    )
    availability_timeout: float = Field(
        2.0, gt=0, le=30, description="seconds a live registry check may take before the answer is 'unknown'"
    )
    availability_ttl: int = Field(3600, ge=1, description="seconds a live 'free'/'taken' answer is cached in Redis")
    availability_refresh_timeout: float = Field(
        600.0, gt=0, description="seconds `tnaas availability refresh` may spend downloading an index"
    )
    availability_snapshot_refresh: int = Field(
        24 * 3600,
        ge=600,
        description="seconds after which the scheduler rebuilds a snapshot from where it was made; it never makes "
        "one (downloading every name is an operator's step: `tnaas availability refresh`)",
    )
    # Registry calls, bounded. One request shows at most TNAAS_MAX_N (20) names: on both registries with a
    # canary each that is 42 calls; 48 leaves the `free` filter a few replacements, and stops its rounds there.
    availability_request_calls: int = Field(
        48, ge=2, description="most registry calls one request makes (its names and a canary per registry)"
    )
    # A person's burst: two of the largest requests (42 calls each) back to back; then one call a second, a
    # 5-name request on both registries (12 calls) every 12 s. Repeated names come from the cache for free.
    availability_caller_burst: int = Field(100, ge=2, description="registry calls one caller may make at once")
    availability_caller_rate: float = Field(
        1.0, gt=0, description="registry calls a second a caller's budget refills with (Slack user, API address)"
    )
    # The whole stack, per registry: 10 calls a second on average (36,000 an hour) from one address, with
    # bursts of 300 (about 7 of the largest requests): polite to a public registry; the cache answers repeats.
    availability_stack_burst: int = Field(300, ge=2, description="registry calls the whole stack may make at once")
    availability_stack_rate: float = Field(
        10.0, gt=0, description="registry calls a second the stack's budget per registry refills with"
    )
    # Failures count only from look-ups in which no call got an answer (any answer resets them), so 3 is two
    # requests of one name each (the name and the canary), or one request of two names or more, all failing.
    # While open, marks read "unknown" at once, and one probe (the canary, in the background) asks every
    # cool-down whether the registry is back.
    availability_breaker_failures: int = Field(
        3, ge=1, description="registry calls failed in a row (timeouts, errors, garbage) that open its breaker"
    )
    availability_breaker_cooldown: float = Field(
        30.0, gt=0, description="seconds an open breaker answers 'unknown' before a probe asks the registry again"
    )
    availability_canaries: dict[str, str] = Field(
        default_factory=lambda: {"pypi": "pip", "npm": "npm"},
        description="a name each registry must have: its 'not found' is trusted only when this one is found",
    )

    @model_validator(mode="after")
    def _sentinels_name_the_stack(self) -> Settings:
        """With sentinels and no REDIS_URL, the stack's Redis is theirs, never an embedded one: a URL whose
        host is not used (only a URL's password and database number are, under Sentinel)."""
        if self.redis_sentinels and not self.redis_url:
            self.redis_url = f"redis://{self.redis_service}-sentinel/0"
        return self

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(host, int(port)) for host, port in (a.rsplit(":", 1) for a in self.redis_sentinels.split(",") if a)]

    @property
    def learnt_dir(self) -> Path:
        """What this stack learns from its votes (the reranker): its own, never another stack's."""
        return self.data_dir / "learnt"

    @property
    def snapshot_dir(self) -> Path:
        """The stack's own (its scheduler refreshes them): two stacks on one checkout never share them."""
        return self.availability_dir or self.data_dir / "availability"

    @property
    def web_host(self) -> str:
        """Where the web process binds: every interface under a platform (it routes to $PORT), else loopback."""
        return self.host or ("0.0.0.0" if self.platform_port else "127.0.0.1")

    @property
    def web_port(self) -> int:
        return self.platform_port or self.port

    @property
    def worker_metrics_port(self) -> int | None:
        return self.metrics_port or self.platform_port

    @property
    def slack_oauth(self) -> bool:
        """Installable by any workspace (Bolt's OAuth flow), rather than one workspace's token."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and (self.slack_bot_token or self.slack_oauth))


@cache
def get_settings() -> Settings:
    return Settings()
