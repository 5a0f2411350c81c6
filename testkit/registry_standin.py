"""A local stand-in for a PEP 691 package index and an npm registry, on 127.0.0.1 only.

It answers the way the real ones do: PyPI's simple API negotiates JSON (``application/vnd.pypi.simple.v1+json``)
or HTML by the Accept header, redirects a non-normalised project URL to the normalised one, and 404s an
unknown project; npm serves a packument (JSON with ``name``) or 404 ``{"error":"Not found"}``, with a scoped
name's ``/`` as ``%2F``. Modes play the failures: ``slow`` (answers after ``delay`` seconds), ``broken``
(HTTP 500), ``garbage`` (200 with a body that is not the protocol), ``lost`` (404 for everything, as a
wrong base URL does), ``html`` (an index that only speaks PEP 503 HTML), ``reset`` (closes the connection),
``taken`` (every name exists: each shown name has to be replaced). ``mode`` and ``delay`` may change while it
runs (a registry that slows down, then recovers).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PYPI_JSON = "application/vnd.pypi.simple.v1+json"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class RegistryStandin:
    def __init__(self, pypi: list[str], npm: list[str], mode: str = "ok", delay: float = 5.0):
        self.pypi = {_normalise(n): n for n in pypi}
        self.npm = set(npm)
        self.mode = mode
        self.delay = delay
        self.requests: list[str] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def pypi_url(self) -> str:
        return f"{self.base}/simple/"

    @property
    def npm_url(self) -> str:
        return f"{self.base}/npm/"

    def start(self) -> RegistryStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                standin.requests.append(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (its deadline)
                    standin._answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # a slow answer in progress returns at once
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> RegistryStandin:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- answers -----------------------------------------------------------------------------------
    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        if self.mode == "slow" and self._stopping.wait(self.delay):
            return  # stopping: the client has long given up
        if self.mode == "reset":
            h.close_connection = True
            h.connection.close()
            return
        if self.mode == "broken":
            return self._send(h, 500, "text/html", b"<html><body><h1>500 Internal Server Error</h1></body></html>")
        if self.mode == "lost":
            return self._send(h, 404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>")
        path = h.path.split("?", 1)[0]
        if path.startswith("/simple/"):
            return self._pypi(h, path[len("/simple/") :])
        if path.startswith("/npm/"):
            return self._npm(h, unquote(path[len("/npm/") :]))
        self._send(h, 404, "text/plain", b"Not Found")

    def _pypi(self, h, rest: str) -> None:
        wants_json = PYPI_JSON in h.headers.get("Accept", "") and self.mode != "html"
        if self.mode == "garbage":
            return self._send(h, 200, PYPI_JSON, b'{"meta": {"api-version": "1.1"}, "nam')
        if rest == "":
            if wants_json:
                doc = {
                    "meta": {"api-version": "1.1", "_last-serial": 7},
                    "projects": [{"name": n, "_last-serial": 7} for n in self.pypi.values()],
                }
                return self._send(h, 200, PYPI_JSON, json.dumps(doc).encode())
            links = "".join(f'<a href="/simple/{k}/">{n}</a>\n' for k, n in self.pypi.items())
            return self._send(h, 200, "text/html", f"<!DOCTYPE html><html><body>{links}</body></html>".encode())
        name = rest.rstrip("/")
        if name != _normalise(name) or not rest.endswith("/"):
            h.send_response(301)
            h.send_header("Location", f"/simple/{_normalise(name)}/")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if name not in self.pypi and self.mode != "taken":
            return self._send(h, 404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>")
        if wants_json:
            doc = {
                "meta": {"api-version": "1.1", "_last-serial": 7},
                "name": name,
                "versions": ["1.0"],
                "files": [{"filename": f"{name}-1.0.tar.gz", "url": f"/files/{name}-1.0.tar.gz", "hashes": {}}],
            }
            return self._send(h, 200, PYPI_JSON, json.dumps(doc).encode())
        page = f'<!DOCTYPE html><html><body><a href="/files/{name}-1.0.tar.gz">{name}-1.0.tar.gz</a></body></html>'
        self._send(h, 200, "text/html", page.encode())

    def _npm(self, h, name: str) -> None:
        if self.mode == "garbage":
            return self._send(h, 200, "application/json", b'["this is not a packument"]')
        if name not in self.npm and self.mode != "taken":
            return self._send(h, 404, "application/json", b'{"error":"Not found"}')
        doc = {
            "name": name,
            "dist-tags": {"latest": "1.0.0"},
            "modified": "2024-01-01T00:00:00.000Z",
            "versions": {"1.0.0": {"name": name, "version": "1.0.0", "dist": {"tarball": f"/{name}/-/x.tgz"}}},
        }
        self._send(h, 200, "application/vnd.npm.install-v1+json", json.dumps(doc).encode())

    @staticmethod
    def _send(h, status: int, content_type: str, body: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
