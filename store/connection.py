"""Redis clients every process uses, built one way: fail fast when Redis is down, and wait for it
where a process must not exit (a worker started beside a Redis that is still coming up).

With ``TNAAS_REDIS_SENTINELS`` set, every client (web, workers, scheduler, rq, rate limits, batching,
Slack state) is a Sentinel-managed one (redis-py's ``Sentinel.master_for``): its pool asks the
sentinels for the primary on each new connection and drops connections to a primary that was demoted,
so after a failover each process finds the new primary by itself. What is acknowledged to a person
(a vote, an idempotency claim, a Slack reply's step) is written with ``acknowledged``: under Sentinel
it is confirmed by ``TNAAS_REDIS_ACK_REPLICAS`` replicas (``WAIT``) before it counts as done."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from core.limits import SENTINEL_TIMEOUT
from core.settings import get_settings

log = logging.getLogger(__name__)


def redis_client(url: str, socket_timeout: float | None = 5.0, retry_timeouts: bool = True) -> Redis:
    """A client that fails fast when Redis is down (a few quick retries, not redis-py's default of
    ten with up to a second each): callers answer "unavailable, retry" or wait for it themselves.

    ``retry_timeouts=False``: a call that timed out is not sent again (a refused or reset connection
    still is, at once), so no call takes longer than ``socket_timeout``: for a caller with a deadline
    of its own (a Slack ack, ``core.limits.SLACK_REDIS_TIMEOUT``), which also bounds the connect."""
    options = _fail_fast(socket_timeout, Retry, retry_timeouts)
    settings = get_settings()
    if settings.sentinel_addresses:
        from redis.sentinel import Sentinel

        sentinels = Sentinel(settings.sentinel_addresses, sentinel_kwargs=SENTINEL_OPTIONS, **_auth(url))
        return sentinels.master_for(settings.redis_service, **options)
    return Redis.from_url(url, **options)


def async_redis_client(url: str, socket_timeout: float | None = 5.0):
    """``redis_client``'s settings on ``redis.asyncio`` (the web process's event loop)."""
    from redis.asyncio import Redis as AsyncRedis
    from redis.asyncio.retry import Retry as AsyncRetry

    options = _fail_fast(socket_timeout, AsyncRetry)
    settings = get_settings()
    if settings.sentinel_addresses:
        from redis.asyncio.sentinel import Sentinel

        sentinels = Sentinel(settings.sentinel_addresses, sentinel_kwargs=SENTINEL_OPTIONS, **_auth(url))
        return sentinels.master_for(settings.redis_service, **options)
    return AsyncRedis.from_url(url, **options)


SENTINEL_OPTIONS = {"socket_timeout": SENTINEL_TIMEOUT, "socket_connect_timeout": SENTINEL_TIMEOUT}


def _auth(url: str) -> dict:
    """Under Sentinel the URL's host is not used: only its password and database number are."""
    from redis.connection import parse_url

    parts = parse_url(url)
    return {k: parts[k] for k in ("username", "password", "db") if parts.get(k) is not None}


class ReplicaUnavailable(RedisError):
    """A write reached the primary but not enough replicas within ``TNAAS_REDIS_ACK_TIMEOUT``: it may be
    lost in a failover, so it is not acknowledged. The caller answers "unavailable, retry" as for any
    Redis error; every acknowledged write is idempotent, so the retry is safe."""


def _replicas_to_wait(connection) -> int:
    """Replicas an acknowledged write waits for: only a Sentinel-managed client has replicas to wait on."""
    from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
    from redis.sentinel import SentinelConnectionPool

    if isinstance(connection.connection_pool, SentinelConnectionPool | AsyncSentinelPool):
        return get_settings().redis_ack_replicas
    return 0


def _confirmed(replies: list, replicas: int) -> list:
    """The write's own replies, once ``WAIT`` (the last reply, when asked) says enough replicas have them."""
    if not replicas:
        return replies
    if replies[-1] < replicas:
        raise ReplicaUnavailable(
            f"{replies[-1]} of {replicas} Redis replicas confirmed the write within "
            f"{get_settings().redis_ack_timeout} s (TNAAS_REDIS_ACK_TIMEOUT)"
        )
    return replies[:-1]


def acknowledged(connection: Redis, write: Callable[[Any], Any]) -> Any:
    """Run ``write``'s commands (queued on a pipeline) and, under Sentinel, ``WAIT`` for the replicas on
    the same connection (``WAIT`` counts the writes of its own connection, and returns at once inside
    MULTI, hence a plain pipeline). Returns the replies of ``write``'s commands;
    raises ``ReplicaUnavailable`` when too few replicas confirmed in time."""
    replicas = _replicas_to_wait(connection)
    with connection.pipeline(transaction=False) as pipe:
        write(pipe)
        if replicas:
            pipe.wait(replicas, int(get_settings().redis_ack_timeout * 1000))
        return _confirmed(pipe.execute(), replicas)


def recorded(connection: Redis, write: Callable[[Any], Any]) -> Any:
    """``acknowledged``, tried again while Redis is unreachable or unconfirmed, for up to
    ``TNAAS_REDIS_RECORD_WAIT`` seconds: for the record of something already done outside (a message
    Slack has accepted), which a failover must not drop, or the job's rerun would do it again. ``write``
    must be idempotent (it may have reached the old primary). Raises the last error past the wait."""
    give_up = time.monotonic() + get_settings().redis_record_wait
    while True:
        try:
            return acknowledged(connection, write)
        except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, ReplicaUnavailable) as err:
            if time.monotonic() >= give_up:
                raise
            log.warning("could not record a done step yet (%s); trying again", err)
            time.sleep(0.25)


async def acknowledged_async(connection, write: Callable[[Any], Awaitable[Any] | Any]) -> Any:
    """``acknowledged`` on a ``redis.asyncio`` client (the web process)."""
    replicas = _replicas_to_wait(connection)
    async with connection.pipeline(transaction=False) as pipe:
        queued = write(pipe)
        if asyncio.iscoroutine(queued):  # a script queued on the pipeline (commands return the pipeline)
            await queued
        if replicas:
            pipe.wait(replicas, int(get_settings().redis_ack_timeout * 1000))
        return _confirmed(await pipe.execute(), replicas)


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
