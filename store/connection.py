"""Redis clients every process uses, built one way: fail fast when Redis is down, and wait for it
where a process must not exit (a worker started beside a Redis that is still coming up)."""

from __future__ import annotations

import logging
import math
import time

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

log = logging.getLogger(__name__)


def redis_client(url: str, socket_timeout: float | None = 5.0, retry_timeouts: bool = True) -> Redis:
    """A client that fails fast when Redis is down (a few quick retries, not redis-py's default of
    ten with up to a second each): callers answer "unavailable, retry" or wait for it themselves.

    ``retry_timeouts=False``: a call that timed out is not sent again (a refused or reset connection
    still is, at once), so no call takes longer than ``socket_timeout``: for a caller with a deadline
    of its own (a Slack ack, ``core.limits.SLACK_REDIS_TIMEOUT``), which also bounds the connect."""
    return Redis.from_url(url, **_fail_fast(socket_timeout, Retry, retry_timeouts))


def async_redis_client(url: str, socket_timeout: float | None = 5.0):
    """``redis_client``'s settings on ``redis.asyncio`` (the web process's event loop)."""
    from redis.asyncio import Redis as AsyncRedis
    from redis.asyncio.retry import Retry as AsyncRetry

    return AsyncRedis.from_url(url, **_fail_fast(socket_timeout, AsyncRetry))


def _fail_fast(socket_timeout: float | None, retry_class, retry_timeouts: bool = True) -> dict:
    """The one set of client options both clients use (the retry class is the sync or async one)."""
    backoff = ExponentialBackoff(cap=0.1, base=0.01)
    if retry_timeouts:
        retry, connect_timeout = retry_class(backoff, 2), 2.0
    else:
        retry = retry_class(backoff, 2, supported_errors=(RedisConnectionError,))
        connect_timeout = min(2.0, socket_timeout or math.inf)
    return {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": retry,
        "health_check_interval": 0,
    }


def wait_for_redis(connection: Redis, stopping=None, interval: float = 0.25) -> None:
    """Block until Redis answers (a process started beside a Redis that is still coming up, or
    restarting, waits rather than exits). Logs once, then every 10 s."""
    last_said = 0.0
    while True:
        try:
            connection.ping()
            return
        except RedisError as err:
            if time.monotonic() - last_said > 10:
                log.warning("waiting for Redis: %s", err)
                last_said = time.monotonic()
        if stopping is not None and stopping():
            return
        time.sleep(interval)
