"""Where a snapshot's names come from: a PEP 691 simple index, or a file the user names.

The npm registry has no endpoint that lists every name; the npm package ``all-the-package-names``
(its ``names.json``) is one offline source, found through ``npm root`` when it is installed.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import httpx

from availability.config import TOOL_TIMEOUT, RegistryEndpoint
from availability.live import MAX_REDIRECTS, PYPI_ACCEPT

log = logging.getLogger(__name__)

NPM_NAMES_PACKAGE = "all-the-package-names"


class SourceError(RuntimeError):
    """The names could not be read; the message says from where and what would work."""


def names_from_file(path: Path) -> list[str]:
    """A JSON list of names, a PEP 691 index document, or text with one name per line (first
    tab-separated field; a ``name`` header line is skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SourceError(f"Cannot read {path}: {err}") from None
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            return _names_from_json(json.loads(text), str(path))
        except ValueError as err:
            raise SourceError(f"{path} looks like JSON but is not: {err}") from None
    lines = [line.split("\t", 1)[0].strip() for line in text.splitlines()]
    if lines and lines[0] == "name" and "\t" in text.split("\n", 1)[0]:
        lines = lines[1:]
    return [n for n in lines if n]


def _names_from_json(doc, where: str) -> list[str]:
    if isinstance(doc, list) and all(isinstance(n, str) for n in doc):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("projects"), list):
        names = [p.get("name") for p in doc["projects"] if isinstance(p, dict)]
        if all(isinstance(n, str) for n in names):
            return names
    raise SourceError(f"{where}: expected a JSON list of names or a PEP 691 index ({{'projects': [{{'name': ...}}]}})")


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []
        self._inside = False

    def handle_starttag(self, tag, attrs):
        self._inside = tag == "a"

    def handle_endtag(self, tag):
        self._inside = False

    def handle_data(self, data):
        if self._inside and data.strip():
            self.names.append(data.strip())


def names_from_index(endpoint: RegistryEndpoint, timeout: float, client: httpx.Client | None = None) -> list[str]:
    """Every project name of a simple index: its PEP 691 JSON root, or the PEP 503 HTML one."""
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, max_redirects=MAX_REDIRECTS)
    try:
        response = client.get(endpoint.url, headers={"Accept": PYPI_ACCEPT})
    except httpx.HTTPError as err:
        raise SourceError(
            f"The index at {endpoint.url} ({endpoint.origin}) could not be read: {type(err).__name__}"
        ) from None
    finally:
        if own:
            client.close()
    if response.status_code != 200:
        raise SourceError(f"The index at {endpoint.url} ({endpoint.origin}) answered HTTP {response.status_code}")
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.endswith("json"):
        try:
            doc = response.json()
        except ValueError:
            raise SourceError(f"The index at {endpoint.url} answered invalid JSON") from None
        meta = doc.get("meta") if isinstance(doc, dict) else None
        if not (isinstance(meta, dict) and str(meta.get("api-version", "")).startswith("1.")):
            raise SourceError(f"The index at {endpoint.url} answered JSON that is not a PEP 691 index")
        return _names_from_json(doc, endpoint.url)
    if kind in ("text/html", "application/vnd.pypi.simple.v1+html"):
        parser = _Anchors()
        parser.feed(response.text)
        if not parser.names:
            raise SourceError(f"The index at {endpoint.url} answered a page with no projects on it")
        return parser.names
    raise SourceError(f"The index at {endpoint.url} answered {kind or 'no content type'}, not a simple index")


def installed_npm_names() -> Path | None:
    """``names.json`` of an installed ``all-the-package-names`` (project-local, then global), if any."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    for args in (["root"], ["root", "-g"]):
        try:
            out = subprocess.run([npm, *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            continue
        lines = out.stdout.strip().splitlines()
        candidate = Path(lines[-1]) / NPM_NAMES_PACKAGE / "names.json" if lines else None
        if candidate is not None and candidate.is_file():
            return candidate
    return None
