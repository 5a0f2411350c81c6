"""`tnaas up`: Redis (embedded unless REDIS_URL is set), the web process and N workers, as one.

A small supervisor rather than honcho: honcho rewrites $PORT per process and stops everything when
one process exits, while here any child that dies (Redis included, on the same port and the same
append-only file) is started again. Each child's restarts back off (0.25 s, 0.5 s, 1 s, ... at most
8 s) while it keeps exiting soon after its start, and the backoff resets once it has run for
``TNAAS_RESTART_HEALTHY_AFTER`` seconds: old exits never add up. A crash loop -- a child exiting
``TNAAS_RESTART_MAX_QUICK_EXITS`` times in a row, each soon after its start -- of the web process or
Redis stops the stack (nothing can answer without them), and ``tnaas up`` says which and how it exited;
a worker or the scheduler in one is retried at the longest backoff while the rest serve on, said in
the logs and in /healthz (store.crash_loops). Every child's output is streamed with
its name in front; Ctrl-C (or SIGTERM) stops them all by pid: the web process first (it finishes
the requests in flight), Redis last. The workers and the scheduler are forked from one process that
imported their code once (tnaas.forking): they share it, and a restarted worker answers at once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from core.artifacts import fingerprint
from core.limits import STACK_STOP_SECONDS
from core.settings import Settings
from store.connection import redis_client
from store.crash_loops import CrashLoops
from store.deploys import ModelVersions
from store.learnt import LearntModels
from tnaas.forking import ForkedProcess, start_server
from tnaas.ports import check_free
from tnaas.redis_server import EmbeddedRedis, url_file
from tnaas.terminal import EXIT_CONFIG, EXIT_USAGE

log = logging.getLogger(__name__)
ESSENTIAL = ("web", "redis")  # children the stack cannot answer without
POLL = 0.1  # seconds between looks at the children: a dead one is noticed within this
REDIS_STOP = 0.5  # seconds of the stop budget kept for Redis, stopped last (its AOF holds every acknowledged write)
EXIT_MARGIN = 0.5  # ... and for `tnaas up` itself to exit once every child has
# What redis-server says at every start and stop, even at its "warning" log level: chatter at DEBUG
REDIS_ROUTINE = (
    "Redis is starting",
    "Redis version=",
    "Configuration loaded",
    "Server initialized",
    "Received SIGTERM",
    "Received SIGINT",
    "User requested shutdown",
    "ready to exit",
    "Reading RDB preamble",
    "DB loaded from",
    "Done loading RDB",
)
NOT_READY_AFTER = 60.0  # seconds after which a stack whose /healthz still fails says why, once
# Redis' start-up warning on hosts whose vm.overcommit_memory is 0, and what it means for this Redis
OVERCOMMIT = "Memory overcommit must be enabled"
OVERCOMMIT_MEANS = (
    "Redis notes that this host does not overcommit memory (vm.overcommit_memory=0): only its background "
    "rewrite of the append-only file could fail, under memory pressure, and acknowledged writes are kept "
    "either way; `sysctl vm.overcommit_memory=1` lifts it"
)


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
    looping: bool = False  # in a crash loop, retried at the longest backoff

    @property
    def essential(self) -> bool:
        """The stack cannot answer without it: its crash loop stops the stack."""
        return self.name in ESSENTIAL

    gave_up: bool = False  # a ``once`` child that kept failing: left alone, the stack serves on


def _stream(name: str, stream) -> None:
    for line in stream:
        if name == "redis" and OVERCOMMIT in line:
            log.info("%s", OVERCOMMIT_MEANS)
            continue
        if name == "redis" and any(routine in line for routine in REDIS_ROUTINE):
            log.debug("redis: %s", line.rstrip())
            continue
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
        self.exit_code = 0  # of `tnaas up`: 1 after a crash loop, 2 after a child said a setting is wrong
        self.crash_loops: CrashLoops | None = None  # where /healthz reads the children in a crash loop

    def start(self) -> str | None:
        """Start Redis (when embedded) and wait for it, publish the models' version, start the rest."""
        url = self.settings.redis_url
        self.children = []
        if self._stack is None:
            log.info("%s", self.announcement())
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
            LearntModels(redis_client(url)).share(self.settings.learnt_dir)
            version = ModelVersions(redis_client(url)).publish(
                fingerprint(self.settings.artifacts_dir, self.settings.learnt_dir)
            )
            log.debug("models version %s published", version)
            self.crash_loops = CrashLoops(redis_client(url))
            self._note(lambda loops: loops.reset())
            self.env = os.environ | {"REDIS_URL": url, "PYTHONUNBUFFERED": "1"}
        rest = self._stack if self._stack is not None else children(self.settings)
        self.children += rest
        for child in sorted(rest, key=lambda c: c.forked):  # the forked last: the first waits for the fork server
            self._spawn(child)
        if self._stack is None:
            threading.Thread(target=self._say_when_ready, daemon=True).start()
        return url

    def announcement(self) -> str:
        """What `tnaas up` starts, said before it starts it."""
        s = self.settings
        redis = (
            f"embedded Redis (data in {s.data_dir / 'redis'})"
            if not s.redis_url
            else "no Redis of its own (REDIS_URL is set)"
        )
        workers = f"{s.workers} worker{'s' if s.workers != 1 else ''}"
        return f"starting {redis}, the web process on {s.web_host}:{s.web_port}, {workers} and the upkeep scheduler"

    def base_url(self) -> str:
        host = self.settings.web_host
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.settings.web_port}"

    def ready_line(self) -> str:
        """Where everything is, said once /healthz passes."""
        base = self.base_url()
        if self.settings.slack_app_token:
            slack = "Slack over Socket Mode"
        elif self.settings.slack_enabled:
            slack = f"Slack's endpoint {base}/slack/events"
        else:
            slack = "Slack not set up (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)"
        return f"ready: the page {base}/, the API {base}/api/v1, {slack}"

    def _say_when_ready(self) -> None:
        """Log ``ready_line`` once /healthz answers 200; if it still does not after NOT_READY_AFTER, say why."""
        start = time.monotonic()
        told = False
        while not self.stopping.wait(0.25):
            status, report = _health(f"{self.base_url()}/healthz")
            if status == 200:
                log.info("%s", self.ready_line())
                return
            if not told and time.monotonic() - start > NOT_READY_AFTER:
                told = True
                problems = "; ".join(report.get("problems", [])) if report else "the web process does not answer"
                log.warning("not ready after %.0f s: %s (/healthz)", NOT_READY_AFTER, problems)

    def _spawn(self, child: Child) -> None:
        if child.forked:
            child.process = ForkedProcess(child.args[3:], self.env | child.env)
        else:
            child.process = subprocess.Popen(
                child.args,
                env=self.env | child.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # Ctrl-C reaches the supervisor alone, which stops each child in turn
            )
        child.started_at = time.monotonic()
        child.restart_at = None
        threading.Thread(target=_stream, args=(child.name, child.process.stdout), daemon=True).start()
        log.debug("%s started (pid %d)", child.name, child.process.pid)

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
            if code is None and child.looping and now - child.started_at >= self.policy.healthy_after:
                child.looping, child.quick_exits = False, 0
                log.warning("%s has run %.0f s again: out of its crash loop", child.name, now - child.started_at)
                self._note(lambda loops, name=child.name: loops.clear(name))
            if code is None or (child.once and (code == 0 or child.gave_up)):
                continue
            ran_for = now - child.started_at
            if code == EXIT_CONFIG:
                self.exit_code = EXIT_USAGE
                return f"{child.name} says a setting is wrong (above): restarting it cannot help, so the stack stops"
            child.quick_exits, delay = self.policy.after_exit(ran_for, child.quick_exits)
            if delay is None and child.once:
                log.error("%s keeps failing (exit code %s): the stack serves what is trained", child.name, code)
                child.gave_up = True
                continue
            if delay is None and not child.essential:
                if not child.looping:
                    log.error(
                        "%s exited %d times in a row, each within %g s of its start (last exit code %s): a crash "
                        "loop; retried every %g s while the rest of the stack serves on; its last lines are above",
                        child.name,
                        child.quick_exits,
                        self.policy.healthy_after,
                        code,
                        self.policy.max_delay,
                    )
                child.looping = True
                self._note(lambda loops, c=child, code=code: loops.record(c.name, code, c.quick_exits))
                child.restart_at = now + self.policy.max_delay
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

    def _note(self, write) -> None:
        """Tell /healthz (through Redis) what the supervisor sees; Redis being away never stops the watch."""
        if self.crash_loops is None:
            return
        try:
            write(self.crash_loops)
        except RedisError as err:
            log.debug("crash loops not recorded: %s", err)

    def watch(self) -> None:
        """Look after the children until asked to stop or a crash loop makes it pointless."""
        while not self.stopping.wait(POLL):
            reason = self.check()
            if reason:
                log.error("%s", reason)
                self.gave_up = reason
                self.exit_code = self.exit_code or 1
                self.stopping.set()

    def stop(self, timeout: float = STACK_STOP_SECONDS) -> None:
        """Stop every child by pid within ``budget`` seconds: SIGTERM to the web process, the workers and
        the scheduler at once (the web answers its requests in flight, a worker finishes its job), SIGKILL
        to any still running when their share of ``timeout`` seconds is spent (a killed worker's job is retried at the next
        start), then Redis, which writes every acknowledged write to its AOF before answering."""
        self.stopping.set()
        deadline = time.monotonic() + timeout - EXIT_MARGIN
        for last in (False, True):
            members = [c for c in self.children if (c.name == "redis") == last and c.process]
            for child in members:
                if child.process.poll() is None:
                    child.process.terminate()
            until = deadline if last else deadline - REDIS_STOP
            for child in members:
                try:
                    child.process.wait(max(0.05, until - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %.1f s: killed", child.name, timeout)
                    child.process.kill()
                    child.process.wait()
        log.info("stopped")

    def run(self) -> int:
        """Start, watch, stop; the exit code of `tnaas up` (1 after a crash loop, 2 when a child said a
        setting is wrong). A taken web port raises PortTaken before anything starts."""
        if self._stack is None:
            check_free(self.settings)
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        try:
            self.start()
            self.watch()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return self.exit_code


def _health(url: str) -> tuple[int | None, dict | None]:
    """/healthz's status and report; (None, None) while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        except ValueError:
            return err.code, None
    except (OSError, ValueError):
        return None, None
