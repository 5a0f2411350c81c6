"""A whole Slack-facing stack for tests and benchmarks: the embedded Redis, the Slack Web API stand-in,
`tnaas web` and one `tnaas worker`, all on 127.0.0.1, every process stopped by its pid on the way out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from testkit.processes import start_web, start_worker, stop_process, tnaas_env
from testkit.slack_standin import SlackStandIn
from tnaas.redis_server import EmbeddedRedis


@dataclass
class SlackStack:
    base: str  # the web process, http://127.0.0.1:PORT
    slack: SlackStandIn
    redis: Redis
    env: dict
    processes: list  # worker and web; a test that starts another appends it here to have it stopped
    redis_server: EmbeddedRedis  # for a test that stops, pauses or breaks it


@contextmanager
def slack_stack(artifacts: Path, redis_dir: Path, **env: str | int) -> Iterator[SlackStack]:
    """The stack with ``env`` on top of the defaults (Redis and stand-in URLs, user rate limit lifted)."""
    redis_server = EmbeddedRedis(redis_dir)
    redis_server.start()
    try:
        with SlackStandIn() as standin:
            settings = {"TNAAS_USER_RATE": 1000} | env
            full_env = tnaas_env(artifacts, REDIS_URL=redis_server.url, TNAAS_SLACK_API_URL=standin.url, **settings)
            connection = Redis.from_url(redis_server.url)
            processes: list = []
            try:
                processes.append(start_worker(full_env, connection))
                web, base = start_web(full_env)
                processes.append(web)
                yield SlackStack(base, standin, connection, full_env, processes, redis_server)
            finally:
                for process in processes:
                    stop_process(process)
    finally:
        redis_server.stop()
