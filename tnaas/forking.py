"""Workers forked from one process that imported their code, as `tnaas up` starts them.

A worker started as its own ``python -m tnaas worker`` imports scikit-learn, scipy, rq and our code
first: ~105 MB that no other process shares, and seconds before it can take a job. Under `tnaas up`
the workers are forked instead from one server process that imported all of that once (Python's
``multiprocessing`` fork server, started with the stack): a worker shares those pages with the server
and its siblings until it writes to them, and runs the same CLI command, in the same environment, the
moment it is forked. The trained models are shared anyway: every process maps the same artifact files
(models.artifact).

Each forked worker writes to a pipe of its own, which the supervisor reads as it reads a subprocess'
output, and is watched and stopped by its pid through ``ForkedProcess``, which has the face of
``subprocess.Popen`` the supervisor uses.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

PRELOAD = ["tnaas.preforked"]  # what the server imports before it forks: see that module


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_server() -> None:
    """Start the fork server now (it imports for a few seconds), beside the rest of the stack."""
    _context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


class ForkedProcess:
    """``python -m tnaas ARGS`` in a process forked from the fork server, with ``env`` as its environment."""

    def __init__(self, args: list[str], env: dict[str, str]):
        context = _context()
        self.args = args
        read, write = context.Pipe(duplex=False)
        self._process = context.Process(target=_run, args=(args, env, write), name=" ".join(args))
        self._process.start()
        write.close()
        self.pid = self._process.pid
        self.stdout = os.fdopen(os.dup(read.fileno()), encoding="utf-8", errors="replace")  # as Popen(text=True)
        read.close()
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once the process is gone. The fork server reports it; a fork server that died
        reports 255 for a process that may still run, which counts as gone only once it is."""
        if self.returncode is None and (code := self._process.exitcode) is not None:
            self.returncode = None if code == 255 and _running(self.pid) else code
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        self._process.join(timeout)
        while self.poll() is None:  # only when the fork server is gone and the process is not yet
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _run(args: list[str], env: dict[str, str], output: Connection) -> None:
    """In the forked process: its own output and environment, then the command as the CLI runs it."""
    gc.freeze()  # what the server imported stays shared: the collector no longer writes to those objects
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    sys.stdout, sys.stderr = (os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=False) for fd in (1, 2))
    os.environ.clear()
    os.environ.update(env)
    from core.settings import get_settings

    get_settings.cache_clear()  # read from this process' environment
    sys.argv = ["tnaas", *args]
    runpy.run_module("tnaas", run_name="__main__", alter_sys=True)  # `python -m tnaas ARGS`, already imported
