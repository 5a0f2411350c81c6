"""Real TNaaS processes on 127.0.0.1 for tests and benchmarks; each stopped by its pid."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPConnection
from pathlib import Path

from redis import Redis
from rq import Worker

from tnaas.redis_server import EmbeddedRedis, free_port


def local_registries() -> dict[str, str]:
    """Package registries on a closed loopback port, for processes that must never ask a real one:
    availability checks there are "unknown" at once. Tests that want answers start a stand-in."""
    closed = free_port()
    return {
        "TNAAS_PYPI_INDEX_URL": f"http://127.0.0.1:{closed}/simple/",
        "TNAAS_NPM_REGISTRY_URL": f"http://127.0.0.1:{closed}/npm/",
    }


def free_port_run(count: int, attempts: int = 50) -> int:
    """A free loopback port whose next ``count - 1`` ports are free too: `tnaas up` serves its workers'
    metrics on the web port + 1, + 2, ... (a taken one would keep that worker from starting)."""
    for _ in range(attempts):
        base = free_port()
        if base + count - 1 > 65535:
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
        return base
    raise RuntimeError(f"no run of {count} free ports in {attempts} attempts")


def tnaas_env(artifacts, **extra) -> dict:
    """The environment of a `tnaas` process using ``artifacts``; its data (the embedded Redis'
    files) beside them, never the developer's own ./data; package registries only on 127.0.0.1;
    `tnaas up` serving what ``artifacts`` hold, training nothing more."""
    env = (
        local_registries()
        | os.environ
        | {
            "TNAAS_ARTIFACTS_DIR": str(artifacts),
            "TNAAS_DATA_DIR": f"{artifacts}-data",
            "TNAAS_TRAIN_ON_UP": "false",
            "COLUMNS": "200",
        }
    )
    env.pop("REDIS_URL", None)
    return env | {k: str(v) for k, v in extra.items()}


def stop_process(process: subprocess.Popen, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Stop a process this session started, by its pid: ``sig`` (SIGINT: as Ctrl-C), then SIGKILL."""
    if process.poll() is None:
        os.kill(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; a bounded loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def python_of(cwd: str | None) -> str:
    """The Python that runs a checkout's code: its own virtual environment's when it has one (another
    checkout may pin other versions of our dependencies), else this one."""
    own = Path(cwd) / ".venv" / "bin" / "python" if cwd else None
    return str(own) if own is not None and own.exists() else sys.executable


def start_worker(env: dict, connection: Redis, cwd: str | None = None) -> subprocess.Popen:
    """`tnaas worker` with ``env`` (the code in ``cwd``, else this checkout); returns once this very
    process has registered with RQ."""
    process = subprocess.Popen(
        [python_of(cwd), "-m", "tnaas", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
    )
    try:
        wait_until(
            lambda: any(w.pid == process.pid for w in Worker.all(connection=connection)) or process.poll() is not None,
            timeout=60,
            what="the worker to register",
        )
        assert process.poll() is None, "worker exited at start"
    except BaseException:
        stop_process(process)
        raise
    return process


def start_web(env: dict, cwd: str | None = None) -> tuple[subprocess.Popen, str]:
    """`tnaas web` on a free loopback port; returns the process and its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [python_of(cwd), "-m", "tnaas", "web"],
        env=env | {"TNAAS_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
    )
    base = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
        except urllib.error.HTTPError:
            return True  # answering, even if unhealthy
        except OSError:
            return process.poll() is not None
        return True

    try:
        wait_until(answering, timeout=30, what="the web process")
        assert process.poll() is None, "web process exited at start"
    except BaseException:
        stop_process(process)
        raise
    return process, base


def http(method: str, url: str, body=None, headers: dict | None = None, raw: bytes | None = None):
    """(status, headers, parsed JSON or text) of one request; never raises on HTTP error statuses."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"} | (headers or {})
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, head, text = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        status, head, text = err.code, err.headers, err.read().decode()
    try:
        return status, head, json.loads(text)
    except ValueError:
        return status, head, text


def post_while_refused(url: str, headers: dict, chunks) -> tuple[int, str]:
    """POST ``chunks`` as a client that keeps sending while the server answers and stops reading (the
    way a flood arrives): (status, body) of the answer the server gave, early or not."""
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", parts.path)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    with contextlib.suppress(OSError):  # the server stopped reading: what a cap should do
        for chunk in chunks:
            connection.send(chunk)
    response = connection.getresponse()
    return response.status, response.read().decode()


class SupervisorLog:
    """What `tnaas up` has said so far (read by a thread), and the pid of each child's latest start."""

    def __init__(self, up: subprocess.Popen):
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(up.stdout), daemon=True)
        self._reader.start()

    def read(self) -> str:
        return "".join(list(self.lines))

    def read_all(self, timeout: float = 10) -> str:
        """Everything it said, once it has exited (its last lines may still be in the pipe)."""
        self._reader.join(timeout)
        return self.read()

    def pids(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in re.findall(r"(\S+) started \(pid (\d+)\)", self.read())}

    def kill_and_wait(self, name: str, sig: int = signal.SIGKILL, timeout: float = 10) -> int:
        """Signal the child by its pid; the pid of the one the supervisor starts in its place."""
        old = self.pids()[name]
        os.kill(old, sig)
        return wait_until(lambda: (pid := self.pids()[name]) != old and pid, timeout=timeout, what=f"a new {name}")


def voter_cookie(base: str) -> str:
    """The ``Cookie`` header value of a fresh page visit: the signed voter id the page votes under."""
    with urllib.request.urlopen(f"{base}/", timeout=10) as response:
        set_cookie = response.headers["Set-Cookie"]
    assert set_cookie, "the page set no voter cookie"
    return set_cookie.split(";", 1)[0]


@contextmanager
def running_stack(
    extra_env: dict[str, str], workers: int = 2, cwd: str | None = None, tcp: bool = False
) -> Iterator[str]:
    """An embedded redis-server, `workers` x `tnaas worker` and `tnaas web` on 127.0.0.1, rate limits
    and the queue bound lifted, workers logging at WARNING; yields the web base URL, stops all by pid.
    The processes reach Redis as under ``tnaas up``, over its Unix socket (``tcp``: its loopback port).
    ``cwd``: run another checkout's code (a benchmark's baseline), with this environment."""
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        env = (
            local_registries()
            | os.environ
            | {
                "REDIS_URL": server.url if tcp else server.local_url,
                "TNAAS_LOG_LEVEL": "WARNING",
                "TNAAS_USER_RATE": "1000000",
                "TNAAS_TEAM_RATE": "1000000",
                "TNAAS_MAX_QUEUE": "100000",
            }
            | extra_env
        )
        processes = []
        try:
            connection = Redis.from_url(server.url)
            processes += [start_worker(env, connection, cwd) for _ in range(workers)]
            web, base = start_web(env, cwd)
            processes.append(web)
            yield base
        finally:
            for process in processes:
                stop_process(process)
