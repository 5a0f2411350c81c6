"""`tnaas up`: Redis (embedded unless REDIS_URL is set), the web process and N workers, as one.

A small supervisor rather than honcho: honcho rewrites $PORT per process and stops everything when
one process exits, while a worker that dies here (e.g. killed mid-job) is simply started again.
Every child's output is streamed with its name in front; Ctrl-C (or SIGTERM) stops them all by pid.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from redis import Redis

from models.registry import ModelRegistry
from store.deploys import ModelVersions
from tnaas.redis_server import EmbeddedRedis, url_file
from tnaas.settings import Settings

log = logging.getLogger(__name__)
RESTART_PAUSE = 1.0


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the stack's
    process: subprocess.Popen | None = None
    restarts: int = 0
    stream: threading.Thread | None = field(default=None, repr=False)


def _stream(child: Child) -> None:
    for line in child.process.stdout:
        sys.stdout.write(f"{child.name:<9}| {line}")
        sys.stdout.flush()


def children(settings: Settings) -> list[Child]:
    """The web process, the workers (each serving its metrics on the next port up from the web's)
    and the one upkeep scheduler."""
    python = [sys.executable, "-m", "tnaas"]
    web_port = settings.web_port
    workers = [
        Child(f"worker.{i + 1}", python + ["worker"], {"TNAAS_METRICS_PORT": str(web_port + 1 + i)})
        for i in range(settings.workers)
    ]
    return [Child("web", python + ["web"]), *workers, Child("scheduler", python + ["scheduler"])]


class Supervisor:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.redis: EmbeddedRedis | None = None
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def start(self) -> str:
        url = self.settings.redis_url
        if not url:
            self.redis = EmbeddedRedis(self.settings.data_dir / "redis")
            url = self.redis.start()
            url_file(self.settings.data_dir).write_text(url)  # so `tnaas votes export` and `train` find it
        version = ModelVersions(Redis.from_url(url)).publish(ModelRegistry(self.settings.artifacts_dir).fingerprint())
        log.info("models version %s published", version)
        self.env = os.environ | {"REDIS_URL": url, "PYTHONUNBUFFERED": "1"}
        self.children = children(self.settings)
        for child in self.children:
            self._spawn(child)
        log.info(
            "the playground: http://%s:%d/  (API: /api/v1, health: /healthz, metrics: /metrics)",
            self.settings.web_host,
            self.settings.web_port,
        )
        return url

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.args, env=self.env | child.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        child.stream = threading.Thread(target=_stream, args=(child,), daemon=True)
        child.stream.start()
        log.info("%s started (pid %d)", child.name, child.process.pid)

    def watch(self) -> None:
        """Restart workers that exit; stop everything if the web process itself cannot stay up."""
        while not self.stopping.wait(0.5):
            for child in self.children:
                code = child.process.poll()
                if code is None:
                    continue
                if child.name == "web" and child.restarts >= 3:
                    log.error("web keeps exiting (code %s): stopping", code)
                    self.stopping.set()
                    break
                log.warning("%s exited with code %s: restarting", child.name, code)
                child.restarts += 1
                time.sleep(RESTART_PAUSE)
                self._spawn(child)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.process:
                try:
                    child.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        if self.redis:
            self.redis.stop()
        log.info("stopped")

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        self.start()
        try:
            self.watch()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
