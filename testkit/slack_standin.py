"""A local HTTP server playing Slack (the only stand-in: Slack itself is unreachable from tests).

It answers the way Slack's Web API documents it, errors included, so the code under test meets the
failures of a real workspace: ``{"ok": false, "error": ...}`` with HTTP 200 for API errors, HTTP 429
with ``Retry-After`` when a method's rate limit is exceeded, tokens checked on every call
(``not_authed``, ``invalid_auth``, ``token_revoked``, ``token_expired``), channel membership and the
``chat:write.public`` scope (``not_in_channel``, ``channel_not_found``, ``is_archived``), the
``response_url`` of a slash command (at most 5 posts within 30 minutes), and the OAuth v2 install
and token rotation (``oauth.v2.access`` with a code or a refresh token, single-use).

Rate limits (per workspace, per method; one "minute" is ``minute`` seconds so benchmarks can run
faster than real time): Tier 2 20/min, Tier 3 50/min (``reactions.add``), Tier 4 100/min,
``chat.postMessage`` one per second per channel with a burst of ``post_burst`` (Slack documents "short
bursts" without a figure: 4 here).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

BOT_USER = "UBOT"
TEAM = "T1"
TOKEN = "xoxb-test"
SCOPES = "commands,chat:write,chat:write.public,app_mentions:read,reactions:read,reactions:write,im:history,im:write"
CLIENT_ID, CLIENT_SECRET = "1111.2222", "standin-client-secret"
TIERS = {2: 20, 3: 50, 4: 100}
METHOD_TIER = {
    "reactions.add": 3,
    "reactions.remove": 3,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "views.publish": 4,
    "conversations.open": 3,
    "oauth.v2.access": 4,
}
RESPONSE_URL_USES, RESPONSE_URL_MINUTES = 5, 30
ROTATED_TOKEN_SECONDS = 12 * 3600


@dataclass
class Token:
    team: str
    scopes: set[str]
    bot_user: str = BOT_USER
    expires_at: float | None = None
    revoked: bool = False


@dataclass
class Channel:
    public: bool = True
    members: set[str] | None = None  # None: everyone, the bot included
    archived: bool = False

    def has(self, user: str) -> bool:
        return self.members is None or user in self.members


@dataclass
class ResponseUrl:
    channel: str
    user: str
    created: float
    posts: list[dict] = field(default_factory=list)


@dataclass
class Fault:
    method: str
    error: str
    times: int
    status: int = 200
    retry_after: int | None = None
    delay: float = 0.0
    when: object = None  # callable(params) -> bool, or None for every call


class SlackStandIn:
    """Records every Web API call as (method, params); answers as Slack documents it."""

    def __init__(self, minute: float = 60.0, post_burst: int = 4, latency: float = 0.0):
        """``latency``: seconds every Web API call takes to answer (Slack over the internet, for
        benchmarks; 0 answers at once)."""
        self.minute, self.post_burst, self.latency = minute, post_burst, latency
        self.calls: list[tuple[str, dict]] = []
        self.times: list[float] = []  # time.perf_counter() of each call, for benchmarks
        self.socket_url: str | None = None  # what apps.connections.open hands out (Socket Mode tests)
        self.lock = threading.Lock()
        self.tokens: dict[str, Token] = {TOKEN: Token(TEAM, set(SCOPES.split(",")))}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[tuple[str, str], dict] = {}  # (channel, ts) -> the posted message
        self.reactions: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)  # -> {(user, name)}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.views: dict[tuple[str, str], dict] = {}  # (team, user) -> the published Home tab
        self.codes: dict[str, dict] = {}  # OAuth codes not yet exchanged
        self.refresh_tokens: dict[str, str] = {}  # live refresh token -> the team it refreshes
        self.faults: list[Fault] = []
        self.home_enabled = True
        self.throttled: list[tuple[str, str, str]] = []  # (method, team, channel) of every 429 the limits produced
        self._windows: dict[tuple[str, str], deque] = defaultdict(deque)  # (team, method) -> call times
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._counter = itertools.count(1)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path.startswith("/response/"):
                    status, body, headers = standin._response_url(self.path.rsplit("/", 1)[-1], raw)
                else:
                    params = _params(raw, self.headers.get("Content-Type", ""))
                    status, body, headers = standin._api(self.path.rsplit("/", 1)[-1], params, self.headers)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlackStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what tests set up ---------------------------------------------------------------------------
    def channel(
        self, channel: str, *, public: bool = True, members: set[str] | None = None, archived: bool = False
    ) -> str:
        """Declare a channel. Undeclared ``C…`` channels are public with everyone (the bot too) in them;
        undeclared ``G…`` (private) and ``D…`` (direct message) channels do not exist for the bot."""
        with self.lock:
            self.channels[channel] = Channel(public, members, archived)
        return channel

    def token(self, token: str, team: str, scopes: str = SCOPES, bot_user: str = BOT_USER, **kw) -> str:
        with self.lock:
            self.tokens[token] = Token(team, set(scopes.split(",")), bot_user, **kw)
        return token

    def new_minute(self) -> None:
        """Every rate-limit window starts afresh, as a minute later: a test whose workspace must have its
        budget whatever the tests before it spent."""
        with self.lock:
            self._windows.clear()
            self._buckets.clear()

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    def fail(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        status: int = 200,
        retry_after: int | None = None,
        delay: float = 0.0,
        when=None,
    ) -> None:
        """The next ``times`` calls of ``method`` (those ``when(params)`` accepts) answer ``error``.
        An error of "" answers normally after ``delay`` seconds (a slow Slack)."""
        with self.lock:
            self.faults.append(Fault(method, error, times, status, retry_after, delay, when))

    def response_url(self, channel: str, user: str, age: float = 0.0) -> str:
        """A slash command's ``response_url`` for ``channel`` and ``user``, issued ``age`` seconds ago."""
        key = secrets.token_hex(8)
        with self.lock:
            self.response_urls[key] = ResponseUrl(channel, user, time.time() - age)
        return f"{self.base}/response/{key}"

    def responses(self, url: str | None = None) -> list[dict]:
        """Everything posted to one response_url (or to all), each with its ``_channel`` and ``_user``."""
        with self.lock:
            urls = [self.response_urls[url.rsplit("/", 1)[-1]]] if url else list(self.response_urls.values())
            return [p | {"_channel": r.channel, "_user": r.user} for r in urls for p in r.posts]

    def install_code(self, team: str, *, installer: str = "UINSTALLER", rotation: bool = False) -> str:
        """What Slack appends to the redirect URL after a person approves the install in ``team``."""
        code = secrets.token_hex(6)
        with self.lock:
            self.codes[code] = {"team": team, "installer": installer, "rotation": rotation}
        return code

    def called(self, method: str) -> list[dict]:
        with self.lock:
            return [p for m, p in self.calls if m == method]

    def count(self, method: str | None = None, team: str | None = None) -> int:
        with self.lock:
            return sum(1 for m, p in self.calls if (method in (None, m)) and (team in (None, p.get("_team"))))

    # -- the Web API ---------------------------------------------------------------------------------
    def _api(self, method: str, params: dict, headers) -> tuple[int, dict | str, dict]:
        authorization = headers.get("Authorization") or ""
        bearer = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
        token = params.get("token") or bearer or None
        fault = self._fault(method, params)
        with self.lock:
            team = self.tokens[token].team if token in self.tokens else None
            params = params | {"_token": token, "_team": team}
            self.calls.append((method, params))
            self.times.append(time.perf_counter())
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # a slow Slack: the call is seen at once, answered later
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            if fault is not None and fault.error:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return fault.status, {"ok": False, "error": fault.error}, headers
            if method == "oauth.v2.access":
                return 200, self._oauth(params, headers), {}
            if method == "apps.connections.open":
                return 200, {"ok": True, "url": self.socket_url} if self.socket_url else _err("invalid_auth"), {}
            problem = self._auth(token)
            if problem:
                return 200, _err(problem), {}
            wait = self._rate_limited(method, team, params)
            if wait:
                self.throttled.append((method, team, params.get("channel", "")))
                return 429, _err("ratelimited"), {"Retry-After": str(wait)}
            handler = {
                "auth.test": self._auth_test,
                "chat.postMessage": self._post_message,
                "chat.postEphemeral": self._post_ephemeral,
                "reactions.add": self._reactions_add,
                "views.publish": self._views_publish,
            }.get(method)
            reply = handler(params, self.tokens[token]) if handler else {}
            return 200, {"ok": True} | reply if "error" not in reply else reply, {}

    def _fault(self, method: str, params: dict) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.times > 0 and (fault.when is None or fault.when(params)):
                    fault.times -= 1
                    return fault
        return None

    def _auth(self, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        found = self.tokens.get(token)
        if found is None:
            return "invalid_auth"
        if found.revoked:
            return "token_revoked"
        if found.expires_at is not None and found.expires_at < time.time():
            return "token_expired"
        return None

    def _rate_limited(self, method: str, team: str, params: dict) -> int:
        """Seconds to wait (the Retry-After), or 0 when the call is within its limit."""
        now = time.monotonic()
        if method == "chat.postMessage":
            per_second = 60.0 / self.minute
            tokens, at = self._buckets.get(params.get("channel", ""), (float(self.post_burst), now))
            tokens = min(float(self.post_burst), tokens + (now - at) * per_second)
            if tokens < 1:
                self._buckets[params.get("channel", "")] = (tokens, now)
                return max(1, math.ceil((1 - tokens) / per_second))
            self._buckets[params.get("channel", "")] = (tokens - 1, now)
            return 0
        tier = METHOD_TIER.get(method)
        if tier is None:
            return 0
        window = self._windows[(team, method)]
        while window and window[0] <= now - self.minute:
            window.popleft()
        if len(window) >= TIERS[tier]:
            return max(1, math.ceil(window[0] + self.minute - now))
        window.append(now)
        return 0

    def _reachable(self, channel_id: str, token: Token, *, post: bool) -> tuple[str, Channel | None]:
        """(error, channel) for posting into ``channel_id`` as the bot (Slack's documented rules)."""
        if channel_id.startswith(("U", "W")):  # posting to a user id: the app's DM with them
            channel_id = "D" + channel_id
            self.channels.setdefault(channel_id, Channel(public=False, members={token.bot_user, channel_id[1:]}))
        channel = self.channels.get(channel_id)
        if channel is None and channel_id.startswith("C"):
            channel = self.channels.setdefault(channel_id, Channel())
        if channel is None or (not channel.public and not channel.has(token.bot_user)):
            return "channel_not_found", None
        if channel.archived:
            return "is_archived", None
        if not channel.has(token.bot_user) and not (post and "chat:write.public" in token.scopes):
            return "not_in_channel", None
        return "", channel

    def _auth_test(self, params: dict, token: Token) -> dict:
        return {
            "url": f"https://{token.team.lower()}.slack.example/",
            "team": f"Team {token.team}",
            "user": "tnaas",
            "team_id": token.team,
            "user_id": token.bot_user,
            "bot_id": "B" + token.bot_user,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict, token: Token) -> dict:
        if "chat:write" not in token.scopes:
            return _err("missing_scope")
        if not params.get("text") and not params.get("blocks"):
            return _err("no_text")
        if len(params.get("text") or "") > 40000:
            return _err("msg_too_long")
        error, _ = self._reachable(params.get("channel", ""), token, post=True)
        if error:
            return _err(error)
        channel = params["channel"] if not params["channel"].startswith(("U", "W")) else "D" + params["channel"]
        ts = f"1700000000.{next(self._counter):06d}"
        self.messages[(channel, ts)] = params
        params["_ts"] = ts
        return {"channel": channel, "ts": ts, "message": {"text": params.get("text"), "ts": ts}}

    def _post_ephemeral(self, params: dict, token: Token) -> dict:
        error, channel = self._reachable(params.get("channel", ""), token, post=False)
        if error:
            return _err(error)
        if not channel.has(params.get("user", "")):
            return _err("user_not_in_channel")
        return {"message_ts": f"1700000000.{next(self._counter):06d}"}

    def _reactions_add(self, params: dict, token: Token) -> dict:
        key = (params.get("channel", ""), params.get("timestamp", ""))
        if key not in self.messages:
            return _err("message_not_found")
        if not re.fullmatch(r"[a-z0-9_+'-]+", params.get("name", "")):
            return _err("invalid_name")
        if (token.bot_user, params["name"]) in self.reactions[key]:
            return _err("already_reacted")
        if len({name for _, name in self.reactions[key]}) >= 23:
            return _err("too_many_reactions")
        self.reactions[key].add((token.bot_user, params["name"]))
        return {}

    def _views_publish(self, params: dict, token: Token) -> dict:
        if not self.home_enabled:
            return _err("not_enabled")
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not isinstance(view, dict) or view.get("type") != "home" or len(view.get("blocks", [])) > 100:
            return _err("invalid_arguments")
        self.views[(token.team, params.get("user_id", ""))] = view
        return {"view": view | {"id": "V1"}}

    def _oauth(self, params: dict, headers) -> dict:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        basic = headers.get("Authorization") or ""
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if client_id != CLIENT_ID:
            return _err("invalid_client_id")
        if client_secret != CLIENT_SECRET:
            return _err("bad_client_secret")
        if params.get("grant_type") == "refresh_token":
            team = self.refresh_tokens.pop(params.get("refresh_token", ""), None)  # single-use
            if team is None:
                return _err("invalid_refresh_token")
            return self._issue(team, "U" + team + "BOT", rotation=True)
        grant = self.codes.pop(params.get("code", ""), None)  # single-use
        if grant is None:
            return _err("invalid_code")
        reply = self._issue(grant["team"], "U" + grant["team"] + "BOT", rotation=grant["rotation"])
        return reply | {"authed_user": {"id": grant["installer"]}}

    def _issue(self, team: str, bot_user: str, rotation: bool) -> dict:
        token = f"xoxb-{team}-{secrets.token_hex(6)}"
        expires = time.time() + ROTATED_TOKEN_SECONDS if rotation else None
        self.tokens[token] = Token(team, set(SCOPES.split(",")), bot_user, expires_at=expires)
        reply = {
            "ok": True,
            "app_id": "A1",
            "access_token": token,
            "token_type": "bot",
            "scope": SCOPES,
            "bot_user_id": bot_user,
            "team": {"id": team, "name": f"Team {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if rotation:
            refresh = f"xoxe-1-{secrets.token_hex(8)}"
            self.refresh_tokens[refresh] = team
            reply |= {"refresh_token": refresh, "expires_in": ROTATED_TOKEN_SECONDS}
        return reply

    # -- response_url ----------------------------------------------------------------------------------
    def _response_url(self, key: str, raw: str) -> tuple[int, str, dict]:
        with self.lock:
            found = self.response_urls.get(key)
            if found is None or time.time() - found.created > RESPONSE_URL_MINUTES * 60:
                return 404, "expired_url", {}
            if len(found.posts) >= RESPONSE_URL_USES:
                return 404, "used_url", {}
            channel = self.channels.get(found.channel)
            if channel is not None and channel.archived:
                return 410, "channel_is_archived", {}
            try:
                payload = json.loads(raw)
            except ValueError:
                return 400, "invalid_payload", {}
            if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
                return 400, "no_text", {}
            found.posts.append(payload)
            self.calls.append(("response_url", payload | {"_channel": found.channel, "_user": found.user}))
            self.times.append(time.perf_counter())
            return 200, "ok", {}


def _err(error: str) -> dict:
    return {"ok": False, "error": error}


def _params(raw: str, content_type: str) -> dict:
    if content_type.startswith("application/json"):
        return json.loads(raw or "{}")
    return dict(parse_qsl(raw))


# -- what Slack sends us -------------------------------------------------------------------------------
def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict, method: str = "POST", timeout: float = 10) -> tuple[int, str, dict]:
    """(status, body, headers) of one request; never raises on an HTTP error status."""
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def signed_post(
    url: str, body: bytes, content_type: str, secret: str, age: int = 0, timestamp: str | None = None
) -> tuple[int, str]:
    """POST ``body`` the way Slack does: signed with the app's signing secret, ``age`` seconds old
    (or with exactly ``timestamp``, to replay a request)."""
    ts = timestamp or str(int(time.time()) - age)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }
    status, text, _ = post(url, body, headers)
    return status, text


def slash_form(text: str, *, user: str = "U1", channel: str = "C1", team: str = TEAM, response_url: str = "") -> bytes:
    return urlencode(
        {
            "command": "/techname",
            "text": text,
            "user_id": user,
            "channel_id": channel,
            "team_id": team,
            "response_url": response_url,
            "trigger_id": "t",
        }
    ).encode()


class _Server(ThreadingHTTPServer):
    """Slack takes every connection at once: a listen backlog of 5 (socketserver's default) would make
    a worker posting a batch's replies side by side wait a second for TCP to retry its connect."""

    request_queue_size = 1024
