"""Logging for every process, and the request id that ties a request to its job.

The web process gives each request an id (the caller's ``X-Request-ID`` when it is a sane one, else
a new one), returns it in the response, and puts it in the meta of the job it enqueues; the worker
sets it again while it runs that job. Every log line written meanwhile carries it, in the plain
format as ``[request_id]`` and in the JSON format (``TNAAS_LOG_FORMAT=json``) as a field, so one
grep follows a request from the web process into the worker that answered it.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, copy_context

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")  # a caller's id is echoed in logs: nothing else gets in
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s %(process)d"


def new_request_id(offered: str | None = None) -> str:
    """The caller's id if it looks like one, else a fresh one."""
    return offered if offered and _SANE_ID.match(offered) else uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_context(request_id: str | None, job_id: str | None = None) -> Iterator[None]:
    """Log lines written inside carry this request (and job) id."""
    tokens = (_request_id.set(request_id), _job_id.set(job_id))
    try:
        yield
    finally:
        _request_id.reset(tokens[0])
        _job_id.reset(tokens[1])


class ContextThreadPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in the submitter's context, request id included (Bolt runs its
    listeners in a pool: without this, a Slack request's job would get an id of its own)."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(copy_context().run, fn, *args, **kwargs)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        record.job_id = _job_id.get() or "-"
        return True


# Libraries whose INFO lines are chatter to an operator (rq's per-job and startup lines, uvicorn's startup,
# httpx's line per registry look-up): logged at DEBUG, so TNAAS_LOG_LEVEL=DEBUG shows them.
CHATTY_LIBRARIES = ("rq", "uvicorn", "httpx", "httpcore", "apscheduler", "slack_bolt", "slack_sdk")


class LibraryChatterAtDebug(logging.Filter):
    """Records of ``CHATTY_LIBRARIES`` at INFO become DEBUG records, kept only when ``level`` lets DEBUG through."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.name.split(".", 1)[0] in CHATTY_LIBRARIES:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.level <= logging.DEBUG
        return True


def configure_logging(level: str | int, fmt: str, handler: logging.Handler | None = None) -> None:
    """Root logging for a process: plain lines or JSON lines on stderr, request ids on both.

    Library loggers (uvicorn, rq) propagate here rather than printing in formats of their own; their
    INFO chatter is logged at DEBUG (``LibraryChatterAtDebug``). ``handler`` lets the interactive CLI
    keep its rich console.
    """
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "asctime": "time", "name": "logger"})
            if fmt == "json"
            else logging.Formatter(PLAIN_FORMAT)
        )
    handler.addFilter(RequestIdFilter())
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    handler.addFilter(LibraryChatterAtDebug(numeric if isinstance(numeric, int) else logging.INFO))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "rq", "rq.worker"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
