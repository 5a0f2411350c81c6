"""`tnaas up`: Redis (embedded unless REDIS_URL is set), the web process and N workers, as one.

A small supervisor rather than honcho: honcho rewrites $PORT per process and stops everything when
one process exits, while here any child that dies (Redis included, on the same port and the same
append-only file) is started again. Each child's restarts back off (0.25 s, 0.5 s, 1 s, ... at most
8 s) while it keeps exiting soon after its start, and the backoff resets once it has run for
``TNAAS_RESTART_HEALTHY_AFTER`` seconds: old exits never add up. Only a crash loop -- a child
exiting ``TNAAS_RESTART_MAX_QUICK_EXITS`` times in a row, each soon after its start -- stops the
stack, and ``tnaas up`` says which child and how it exited. Every child's output is streamed with
its name in front; Ctrl-C (or SIGTERM) stops them all by pid: the web process first (it finishes
the requests in flight), Redis last. The workers and the scheduler are forked from one process that
imported their code once (tnaas.forking): they share it, and a restarted worker answers at once.
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

from core.artifacts import fingerprint
from core.settings import Settings
from store.connection import redis_client
from store.deploys import ModelVersions
from tnaas.forking import ForkedProcess, start_server
from tnaas.redis_server import EmbeddedRedis, url_file

log = logging.getLogger(__name__)
POLL = 0.1  # seconds between looks at the children: a dead one is noticed within this


@dataclass(frozen=True)
class RestartPolicy:
    """When to start a child again, and when to give up on it (pure: tested without processes)."""

    healthy_after: float  # a run at least this long resets the backoff
    max_quick_exits: int  # this many quick exits in a row is a crash loop
    first_delay: float = 0.25
    max_delay: float = 8.0

    def after_exit(self, ran_for: float, quick_exits: int) -> tuple[int, float | None]:
        """(quick exits in a row now, seconds to wait before the restart, or None: a crash loop, give up)."""
        quick_exits = quick_exits + 1 if ran_for < self.healthy_after else 0
        if quick_exits >= self.max_quick_exits:
            return quick_exits, None
        return quick_exits, min(self.max_delay, self.first_delay * 2 ** max(0, quick_exits - 1))


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the stack's
    forked: bool = False  # args are `python -m tnaas ...`, run forked from the fork server (tnaas.forking)
    process: subprocess.Popen | ForkedProcess | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None  # monotonic time of a pending restart
    restarts: int = 0
    once: bool = False  # done once it exits 0 (the trainer); started again only after a failure
    gave_up: bool = False  # a ``once`` child that kept failing: left alone, the stack serves on


def _stream(name: str, stream) -> None:
    for line in stream:
        sys.stdout.write(f"{name:<9}| {line}")
        sys.stdout.flush()


def children(settings: Settings) -> list[Child]:
    """The web process, the workers (each serving its metrics on the next port up from the web's)
    and the one upkeep scheduler; the workers and the scheduler, which import the same code, are
    forked from one process that imported it (tnaas.forking). With ``TNAAS_TRAIN_ON_UP``, the trainer
    too: it trains what the stack lacks in the background, once (``tnaas train --background``)."""
    python = [sys.executable, "-m", "tnaas"]
    web_port = settings.web_port
    workers = [
        Child(f"worker.{i + 1}", python + ["worker"], {"TNAAS_METRICS_PORT": str(web_port + 1 + i)}, forked=True)
        for i in range(settings.workers)
    ]
    trainer = [Child("trainer", python + ["train", "--background"], once=True)] if settings.train_on_up else []
    return [Child("web", python + ["web"]), *workers, Child("scheduler", python + ["scheduler"], forked=True), *trainer]


class Supervisor:
    def __init__(self, settings: Settings, stack: list[Child] | None = None):
        self.settings = settings
        self.policy = RestartPolicy(settings.restart_healthy_after, settings.restart_max_quick_exits)
        self.redis: EmbeddedRedis | None = None
        self.children: list[Child] = []
        self._stack = stack  # the children to run instead of the standard ones (tests)
        self.stopping = threading.Event()
        self.env: dict[str, str] = dict(os.environ)
        self.gave_up: str | None = None  # why the stack stopped on its own

    def start(self) -> str | None:
        """Start Redis (when embedded) and wait for it, publish the models' version, start the rest."""
        url = self.settings.redis_url
        self.children = []
        if self._stack is None:
            start_server()  # the fork server imports the workers' code while Redis and the web start
        if not url and self._stack is None:
            self.redis = EmbeddedRedis(self.settings.data_dir / "redis", fsync=self.settings.redis_fsync)
            redis_child = Child("redis", self.redis.command())
            self.children.append(redis_child)
            self._spawn(redis_child)
            self.redis.wait_ready(redis_child.process)
            url = self.redis.local_url  # this machine's processes: over the Unix socket
            url_file(self.settings.data_dir).write_text(url)  # so `tnaas votes export` and `train` find it
        if self._stack is None:
            version = ModelVersions(redis_client(url)).publish(
                fingerprint(self.settings.artifacts_dir, self.settings.learnt_dir)
            )
            log.info("models version %s published", version)
            self.env = os.environ | {"REDIS_URL": url, "PYTHONUNBUFFERED": "1"}
        rest = self._stack if self._stack is not None else children(self.settings)
        self.children += rest
        for child in sorted(rest, key=lambda c: c.forked):  # the forked last: the first waits for the fork server
            self._spawn(child)
        if self._stack is None:
            log.info(
                "the playground: http://%s:%d/  (API: /api/v1, health: /healthz, metrics: /metrics)",
                self.settings.web_host,
                self.settings.web_port,
            )
        return url

    def _spawn(self, child: Child) -> None:
        if child.forked:
            child.process = ForkedProcess(child.args[3:], self.env | child.env)
        else:
            child.process = subprocess.Popen(
                child.args, env=self.env | child.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        child.started_at = time.monotonic()
        child.restart_at = None
        threading.Thread(target=_stream, args=(child.name, child.process.stdout), daemon=True).start()
        log.info("%s started (pid %d)", child.name, child.process.pid)

    def check(self) -> str | None:
        """One look at every child: schedule restarts of the dead, run the restarts that are due.

        Returns why the stack must stop (a crash loop), else None.
        """
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._spawn(child)
                continue
            code = child.process.poll()
            if code is None or (child.once and (code == 0 or child.gave_up)):
                continue
            ran_for = now - child.started_at
            child.quick_exits, delay = self.policy.after_exit(ran_for, child.quick_exits)
            if delay is None and child.once:
                log.error("%s keeps failing (exit code %s): the stack serves what is trained", child.name, code)
                child.gave_up = True
                continue
            if delay is None:
                return (
                    f"{child.name} exited {child.quick_exits} times in a row, each within "
                    f"{self.policy.healthy_after:g} s of its start (last exit code {code}): a crash loop, "
                    f"so the stack stops; its last lines are above"
                )
            log.warning("%s exited with code %s after %.1f s: restarting in %.2f s", child.name, code, ran_for, delay)
            child.restart_at = now + delay
        return None

    def watch(self) -> None:
        """Look after the children until asked to stop or a crash loop makes it pointless."""
        while not self.stopping.wait(POLL):
            reason = self.check()
            if reason:
                log.error("%s", reason)
                self.gave_up = reason
                self.stopping.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every child by pid: the web process first, Redis last, each given ``timeout`` to finish."""
        self.stopping.set()
        order = sorted(self.children, key=lambda c: {"web": 0, "redis": 2}.get(c.name, 1))
        for group in (0, 1, 2):
            members = [c for c in order if {"web": 0, "redis": 2}.get(c.name, 1) == group]
            for child in members:
                if child.process and child.process.poll() is None:
                    child.process.terminate()  # SIGTERM: web finishes its requests, workers their jobs
            deadline = time.monotonic() + timeout
            for child in members:
                if child.process:
                    try:
                        child.process.wait(max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        child.process.kill()
                        child.process.wait()
        log.info("stopped")

    def run(self) -> int:
        """Start, watch, stop; the exit code of `tnaas up` (1 after a crash loop)."""
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        try:
            self.start()
            self.watch()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return 1 if self.gave_up else 0
