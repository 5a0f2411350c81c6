"""Live answers from a registry: a PEP 691 project page or an npm packument; 200 = taken, 404 = free.

Anything else -- a timeout, a refused connection, another status, a body that is not what the protocol
says -- is "unknown", never "free". All names are asked at once and the whole batch gets one deadline.
Every call is counted in ``tnaas_registry_calls`` (a worker's /metrics), by registry and outcome.
A registry that refused a connection is answered "unknown" without asking for the next
``UNREACHABLE_FOR`` seconds: when it is down, every request's names would otherwise each try again.
"""

from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from prometheus_client import Counter

from availability.config import RegistryEndpoint
from availability.marks import Verdict
from availability.rules import PYPI, pypi_normalise

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # bytes read of one answer; a packument can be megabytes and only its start is needed
MAX_REDIRECTS = 3  # PyPI redirects a non-normalised project URL to the normalised one
PARALLEL = 16  # requests in flight at once
UNREACHABLE_FOR = 2.0  # seconds a registry that refused a connection is not asked again (answers "unknown")
PYPI_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)  # PEP 691's recommended negotiation: JSON, else the PEP 503 HTML page
NPM_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
CALLS = Counter("tnaas_registry_calls", "Registry look-ups this process made, by outcome", ["registry", "outcome"])
_NAME_FIELD = re.compile(rb'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class LiveAnswer:
    verdict: Verdict  # FREE, TAKEN or UNKNOWN
    reason: str = ""


def project_url(endpoint: RegistryEndpoint, name: str) -> str:
    if endpoint.registry == PYPI:
        return f"{endpoint.url}{pypi_normalise(name)}/"
    return endpoint.url + quote(name, safe="@")  # a scoped name's "/" travels as %2F


def interpret(registry: str, name: str, status: int, content_type: str, body: bytes, complete: bool) -> LiveAnswer:
    """What one HTTP answer says about ``name``. Pure: the whole protocol knowledge is here."""
    if status == 404:
        return LiveAnswer(Verdict.FREE, "the registry has no such name")
    if status != 200:
        return LiveAnswer(Verdict.UNKNOWN, f"the registry answered HTTP {status}")
    content_type = content_type.split(";")[0].strip().lower()
    if registry == PYPI and content_type in ("text/html", "application/vnd.pypi.simple.v1+html"):
        looks_html = re.search(rb"<(!doctype html|html|a\s)", body[:4096], re.IGNORECASE)
        return LiveAnswer(Verdict.TAKEN) if looks_html else LiveAnswer(Verdict.UNKNOWN, "the registry answered garbage")
    if not (content_type.endswith("json") or content_type.endswith("+json")):
        return LiveAnswer(Verdict.UNKNOWN, f"the registry answered {content_type or 'no content type'}, not JSON")
    answered = _answered_name(body, complete, registry)
    if answered is None:
        return LiveAnswer(Verdict.UNKNOWN, "the registry answered garbage")
    same = pypi_normalise(answered) == pypi_normalise(name) if registry == PYPI else answered == name
    return (
        LiveAnswer(Verdict.TAKEN)
        if same
        else LiveAnswer(Verdict.UNKNOWN, f"the registry answered for another name ({answered!r})")
    )


def _answered_name(body: bytes, complete: bool, registry: str) -> str | None:
    """The ``name`` of a PEP 691 project page / packument; from the start of the text if it was cut short."""
    if not complete:
        found = _NAME_FIELD.search(body)
        return json.loads(b'"' + found.group(1) + b'"') if found and body.lstrip().startswith(b"{") else None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        return None
    if registry == PYPI:
        meta = doc.get("meta")
        if not (isinstance(meta, dict) and str(meta.get("api-version", "")).startswith("1.")):
            return None
    return doc["name"]


class LiveChecker:
    """Asks registries about many names in parallel under one deadline. Thread-safe; one per process."""

    def __init__(self, endpoints: dict[str, RegistryEndpoint], timeout: float, client: httpx.Client | None = None):
        self.endpoints = endpoints
        self.timeout = timeout
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=True, max_redirects=MAX_REDIRECTS, trust_env=True
        )
        self.pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="availability")
        self.unreachable_until: dict[str, float] = {}  # registry -> monotonic time: don't ask before then

    def check(self, queries: list[tuple[str, str]], timeout: float | None = None) -> dict[tuple[str, str], LiveAnswer]:
        """(registry, name) -> answer, for every query, within ``timeout`` seconds in all (default: the
        checker's own)."""
        timeout = self.timeout if timeout is None else timeout
        out: dict[tuple[str, str], LiveAnswer] = {}
        futures = {}
        now = time.monotonic()
        for registry, name in dict.fromkeys(queries):
            if registry not in self.endpoints:
                out[registry, name] = LiveAnswer(Verdict.UNKNOWN, f"no {registry} registry configured")
            elif self.unreachable_until.get(registry, 0.0) > now:  # refused a moment ago: not hammered per name
                out[registry, name] = LiveAnswer(Verdict.UNKNOWN, "the registry could not be reached (ConnectError)")
            else:
                futures[self.pool.submit(self._ask, registry, name)] = (registry, name)
        done, late = wait(futures, timeout=timeout)
        for future in done:
            out[futures[future]] = future.result()
        for future in late:
            future.cancel()
            out[futures[future]] = LiveAnswer(
                Verdict.UNKNOWN, f"the registry did not answer within {round(timeout, 1):g} s"
            )
        return out

    def probe(self, registry: str, name: str, done) -> None:
        """Ask ``name`` in the background and hand its answer to ``done``: nobody waits for a probe."""
        if registry not in self.endpoints:
            return
        future = self.pool.submit(self._ask, registry, name)
        future.add_done_callback(lambda f: done(f.result()) if not f.cancelled() else None)

    def _ask(self, registry: str, name: str) -> LiveAnswer:
        answer = self._get(registry, name)
        CALLS.labels(registry, answer.verdict.value).inc()
        return answer

    def _get(self, registry: str, name: str) -> LiveAnswer:
        endpoint = self.endpoints[registry]
        accept = PYPI_ACCEPT if registry == PYPI else NPM_ACCEPT
        try:
            with self.client.stream("GET", project_url(endpoint, name), headers={"Accept": accept}) as response:
                body, complete = bytearray(), True
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY:
                        complete = False
                        break
                return interpret(
                    registry,
                    name,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    bytes(body),
                    complete,
                )
        except httpx.TimeoutException:
            return LiveAnswer(Verdict.UNKNOWN, f"the registry did not answer within {self.timeout:g} s")
        except httpx.ConnectError as err:
            self.unreachable_until[registry] = time.monotonic() + UNREACHABLE_FOR
            log.info("live check of %s on %s failed: %s", name, registry, err)
            return LiveAnswer(Verdict.UNKNOWN, f"the registry could not be reached ({type(err).__name__})")
        except httpx.HTTPError as err:
            log.info("live check of %s on %s failed: %s", name, registry, err)
            return LiveAnswer(Verdict.UNKNOWN, f"the registry could not be reached ({type(err).__name__})")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
