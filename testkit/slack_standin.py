"""A local HTTP server playing the Slack Web API (the only stand-in: Slack itself is unreachable)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

BOT_USER = "UBOT"


class SlackStandIn:
    """Records every Web API call as (method, params); answers like Slack does, minimally."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.times: list[float] = []  # time.perf_counter() of each call, for benchmarks
        self.socket_url: str | None = None  # what apps.connections.open hands out (Socket Mode tests)
        self.lock = threading.Lock()
        counter = itertools.count(1)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                method = self.path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                reply = {"ok": True}
                if method == "auth.test":
                    reply |= {"user_id": BOT_USER, "bot_id": "BBOT", "team_id": "T1", "user": "tnaas", "team": "Test"}
                elif method == "apps.connections.open" and standin.socket_url:
                    reply |= {"url": standin.socket_url}
                elif method == "chat.postMessage":
                    reply |= {"channel": params.get("channel"), "ts": f"1700000000.{next(counter):06d}"}
                    params = params | {"_ts": reply["ts"]}
                with standin.lock:
                    standin.calls.append((method, params))
                    standin.times.append(time.perf_counter())
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlackStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def called(self, method: str) -> list[dict]:
        with self.lock:
            return [p for m, p in self.calls if m == method]


def signed_post(url: str, body: bytes, content_type: str, secret: str, age: int = 0) -> tuple[int, str]:
    """POST ``body`` the way Slack does: signed with the app's signing secret, ``age`` seconds old."""
    ts = str(int(time.time()) - age)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
