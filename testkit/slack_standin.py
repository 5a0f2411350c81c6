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

Block Kit: every message (``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``, a response_url)
and every view (``views.publish``) is checked against Slack's documented limits (``block_kit_problem``):
a message past them is answered ``invalid_blocks`` (``msg_blocks_too_long`` past ~13,000 characters of
blocks), a view ``invalid_arguments`` with the reason in ``response_metadata.messages``, as Slack does.
Each refusal is kept in ``block_refusals`` so a test can say none happened.

Workflow steps: ``function_executed`` builds the signed event Slack sends when a workflow runs the
app's custom step, and ``functions.completeSuccess`` / ``completeError`` complete that execution once
(``function_execution_not_found``, ``invalid_function_execution_id``, ``access_denied``,
``execution_not_in_running_state``, ``parameter_validation_failed``), kept in ``executions``.

Modals: ``views.open`` takes a trigger_id of the team, within 3 s, once; ``views.update`` replaces an
open modal (``not_found``, ``hash_conflict``, ``view_too_large``, ``invalid_arguments``,
``duplicate_external_id``); a test tells
the stand-in how the app acked a submission (``submitted``) or that the person closed it (``closed``).

Files a person uploaded (``add_file``: the bytes, the workspace that owns them, who else sees them):
``files.info`` answers the file object as Slack does (``id``, ``name``, ``filetype``, ``size``,
``user_team``, ``url_private``, ``url_private_download``) or ``file_not_found`` (no such file, or
another workspace's not shared with the caller's), ``file_deleted``, ``access_denied`` (a file the bot
may not read), ``missing_scope`` (no ``files:read``), the token errors. The bytes are served at
``url_private`` / ``url_private_download`` only to a bearer token of a workspace that may read the file;
any other request is redirected (302) to the sign-in page, a web page, as Slack does.
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
SCOPES = (
    "commands,chat:write,chat:write.public,app_mentions:read,reactions:read,reactions:write,im:history,im:write,"
    "files:write,files:read"
)
CLIENT_ID, CLIENT_SECRET = "1111.2222", "standin-client-secret"
TIERS = {2: 20, 3: 50, 4: 100}
METHOD_TIER = {
    "reactions.add": 3,
    "reactions.remove": 3,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "views.publish": 4,
    "views.open": 4,
    "views.update": 4,
    "functions.completeSuccess": 3,
    "functions.completeError": 3,
    "conversations.open": 3,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.info": 4,
    "oauth.v2.access": 4,
}
RESPONSE_URL_USES, RESPONSE_URL_MINUTES = 5, 30
TRIGGER_SECONDS = 3  # a trigger_id opens a modal within 3 s of the click or command, once
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
class SharedFile:
    """A file a person uploaded in Slack (a modal's file input): its owner workspace and bytes."""

    team: str
    name: str
    filetype: str
    data: bytes
    readable: bool = True  # False: the bot may not read it (files.info answers access_denied)
    shared_with: set[str] = field(default_factory=set)  # other workspaces that see it (Slack Connect)
    deleted: bool = False


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
        self.triggers: dict[str, tuple[float, str]] = {}  # trigger id -> (issued at, team)
        self.modals: list[dict] = []  # every view opened with views.open, with its "id"
        self.open_views: dict[str, dict] = {}  # view id -> the modal shown now (its "hash" changes on each update)
        self.view_updates: list[dict] = []  # every view views.update put up, with its "id"
        self.uploads: dict[str, dict] = {}  # file id -> {"filename", "length", "data", "team"} (files_upload_v2)
        self.files: list[dict] = []  # files shared: {"id", "title", "filename", "channel", "data", "comment"}
        self.person_files: dict[str, SharedFile] = {}  # file id -> a file a person uploaded (``add_file``)
        self.downloads: list[tuple[str, int]] = []  # (file id, HTTP status) of every request for a file's bytes
        self.codes: dict[str, dict] = {}  # OAuth codes not yet exchanged
        self.refresh_tokens: dict[str, str] = {}  # live refresh token -> the team it refreshes
        self.faults: list[Fault] = []
        # workflow step executions: id -> {"team", "callback_id", "outputs" (declared), "state", "completion"}
        self.executions: dict[str, dict] = {}
        self.home_enabled = True
        self.block_refusals: list[tuple[str, str]] = []  # (method, why) of every payload refused for its blocks
        self.throttled: list[tuple[str, str, str]] = []  # (method, team, channel) of every 429 the limits produced
        self._windows: dict[tuple[str, str], deque] = defaultdict(deque)  # (team, method) -> call times
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._counter = itertools.count(1)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw_bytes = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                raw = raw_bytes.decode(errors="replace")
                if self.path.startswith("/upload/"):
                    status, body, headers = standin._upload(self.path.rsplit("/", 1)[-1], raw_bytes)
                elif self.path.startswith("/response/"):
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

            def do_GET(self):
                status, body, headers = standin._file_bytes(self.path, self.headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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

    def trigger(self, team: str = TEAM, age: float = 0.0) -> str:
        """A trigger_id, as Slack puts in a slash command, shortcut or click, issued ``age`` seconds ago."""
        trigger = f"{secrets.randbelow(10**10)}.{secrets.token_hex(8)}"
        with self.lock:
            self.triggers[trigger] = (time.time() - age, team)
        return trigger

    def add_file(
        self,
        data: bytes,
        *,
        team: str = TEAM,
        name: str = "names.txt",
        readable: bool = True,
        shared_with: set[str] | None = None,
    ) -> dict:
        """A file a person of ``team`` uploaded (in a modal's file input): the file object as a view
        submission's state carries it."""
        file_id = f"F{next(self._counter):08d}"
        filetype = {"txt": "text", "csv": "csv"}.get(name.rsplit(".", 1)[-1], "binary")
        with self.lock:
            self.person_files[file_id] = SharedFile(team, name, filetype, data, readable, shared_with or set())
            return self._file_object(file_id)

    def delete_file(self, file_id: str) -> None:
        with self.lock:
            self.person_files[file_id].deleted = True

    def _file_object(self, file_id: str) -> dict:
        f = self.person_files[file_id]
        url = f"{self.base}/files-pri/{f.team}-{file_id}"
        return {
            "id": file_id,
            "created": int(time.time()),
            "name": f.name,
            "title": f.name,
            "mimetype": "text/plain" if f.filetype != "binary" else "application/octet-stream",
            "filetype": f.filetype,
            "user": "U1",
            "user_team": f.team,
            "size": len(f.data),
            "is_external": False,
            "url_private": f"{url}/{f.name}",
            "url_private_download": f"{url}/download/{f.name}",
        }

    def install_code(self, team: str, *, installer: str = "UINSTALLER", rotation: bool = False) -> str:
        """What Slack appends to the redirect URL after a person approves the install in ``team``."""
        code = secrets.token_hex(6)
        with self.lock:
            self.codes[code] = {"team": team, "installer": installer, "rotation": rotation}
        return code

    def function_executed(
        self,
        inputs: dict,
        *,
        callback_id: str = "suggest_names",
        outputs: tuple[str, ...] = ("names_text", "names"),
        team: str = TEAM,
        event_id: str | None = None,
    ) -> dict:
        """The signed body Slack sends when a workflow runs the app's custom step ``callback_id`` (its
        ``function_executed`` event), the execution now running and waiting for one completion;
        ``outputs``: the output parameters the manifest declares (completeSuccess checks them)."""
        execution = f"Fx{secrets.token_hex(6).upper()}"
        function_token = f"xwfp-{secrets.token_hex(8)}"  # the execution's own token, as Slack hands it out
        with self.lock:
            self.executions[execution] = {
                "team": team,
                "callback_id": callback_id,
                "outputs": set(outputs),
                "state": "running",
                "completion": None,
            }
            self.tokens[function_token] = Token(team, set())
        event = {
            "type": "function_executed",
            "function": {"id": f"Fn{secrets.token_hex(5).upper()}", "callback_id": callback_id, "title": "Step"},
            "inputs": inputs,
            "function_execution_id": execution,
            "workflow_execution_id": f"Wx{secrets.token_hex(6).upper()}",
            "event_ts": f"{time.time():.6f}",
            "bot_access_token": function_token,
        }
        return {
            "type": "event_callback",
            "team_id": team,
            "api_app_id": "A1",
            "event_id": event_id or f"Ev{secrets.token_hex(6).upper()}",
            "event_time": int(time.time()),
            "event": event,
        }

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
                "chat.update": self._update,
                "reactions.add": self._reactions_add,
                "views.publish": self._views_publish,
                "views.open": self._views_open,
                "views.update": self._views_update,
                "conversations.open": self._conversations_open,
                "files.getUploadURLExternal": self._upload_url,
                "files.completeUploadExternal": self._complete_upload,
                "files.info": self._files_info,
                "functions.completeSuccess": self._function_complete,
                "functions.completeError": self._function_complete,
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

    def _blocks_refused(self, method: str, params: dict) -> dict | None:
        """Slack's answer to a message whose blocks break Block Kit's limits, or None."""
        if not params.get("blocks"):
            return None
        problem = block_kit_problem(params["blocks"], "message")
        if problem is None:
            return None
        self.block_refusals.append((method, problem))
        error = "msg_blocks_too_long" if problem == "msg_blocks_too_long" else "invalid_blocks"
        return _err(error) | {"response_metadata": {"messages": [f"[ERROR] {problem}"]}}

    def _post_message(self, params: dict, token: Token) -> dict:
        if "chat:write" not in token.scopes:
            return _err("missing_scope")
        if not params.get("text") and not params.get("blocks"):
            return _err("no_text")
        refused = self._blocks_refused("chat.postMessage", params)
        if refused:
            return refused
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

    def _update(self, params: dict, token: Token) -> dict:
        return self._blocks_refused("chat.update", params) or {}

    def _post_ephemeral(self, params: dict, token: Token) -> dict:
        refused = self._blocks_refused("chat.postEphemeral", params)
        if refused:
            return refused
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
        problem = view_problem(view)
        view = json.loads(view) if isinstance(view, str) and problem is None else view
        if problem is None and view.get("type") != "home":
            problem = "views.publish takes a home view"
        if problem:
            self.block_refusals.append(("views.publish", problem))
            return _err("invalid_arguments") | {"response_metadata": {"messages": [f"[ERROR] {problem}"]}}
        self.views[(token.team, params.get("user_id", ""))] = view
        return {"view": view | {"id": "V1"}}

    def _views_open(self, params: dict, token: Token) -> dict:
        """A modal, with a trigger_id issued to this team within TRIGGER_SECONDS and not used yet."""
        issued = self.triggers.get(params.get("trigger_id") or "")
        if issued is None or issued[1] != token.team:
            return _err("invalid_trigger_id")
        if time.time() - issued[0] > TRIGGER_SECONDS:
            return _err("expired_trigger_id")
        view = params.get("view")
        problem = view_problem(view)
        view = json.loads(view) if isinstance(view, str) and problem is None else view
        if problem is None and view.get("type") != "modal":
            problem = "views.open takes a modal"
        if problem:
            self.block_refusals.append(("views.open", problem))
            return _err("invalid_arguments") | {"response_metadata": {"messages": [f"[ERROR] {problem}"]}}
        del self.triggers[params["trigger_id"]]  # used once
        opened = view | {"id": f"V{next(self._counter):08d}", "team_id": token.team, "hash": self._hash()}
        self.modals.append(opened)
        self.open_views[opened["id"]] = opened
        return {"view": opened}

    def _views_update(self, params: dict, token: Token) -> dict:
        """An open modal of the token's team, replaced (``hash_conflict`` when a ``hash`` is given and is
        not the view's current one; ``not_found`` once it was closed; ``view_too_large`` past 250 kB)."""
        current = self.open_views.get(params.get("view_id") or "")
        if params.get("external_id") and not params.get("view_id"):
            found = [v for v in self.open_views.values() if v.get("external_id") == params["external_id"]]
            current = found[0] if found else None
        if current is None or current["team_id"] != token.team:
            return _err("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            return _err("hash_conflict")
        view = params.get("view")
        if len(view if isinstance(view, str) else json.dumps(view or {})) > MAX_VIEW_BYTES:
            return _err("view_too_large")
        problem = view_problem(view)
        view = json.loads(view) if isinstance(view, str) and problem is None else view
        if problem is None and view.get("type") != "modal":
            problem = "views.update takes a modal here"
        external = view.get("external_id") if problem is None else None
        if external and any(v.get("external_id") == external for i, v in self.open_views.items() if i != current["id"]):
            return _err("duplicate_external_id")
        if problem:
            self.block_refusals.append(("views.update", problem))
            return _err("invalid_arguments") | {"response_metadata": {"messages": [f"[ERROR] {problem}"]}}
        updated = view | {"id": current["id"], "team_id": token.team, "hash": self._hash()}
        self.open_views[current["id"]] = updated
        self.view_updates.append(updated)
        return {"view": updated}

    def _hash(self) -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def submitted(self, view_id: str, ack: str) -> None:
        """Slack applies a view_submission's ack (its body, as the app answered): ``response_action``
        "update" replaces the view (a new hash), "errors" keeps it, anything else closes it."""
        answer = json.loads(ack) if ack else {}
        with self.lock:
            current = self.open_views.get(view_id)
            if current is None:
                return
            if answer.get("response_action") == "update":
                self.open_views[view_id] = answer["view"] | {"id": view_id, "team_id": current["team_id"]}
                self.open_views[view_id]["hash"] = self._hash()
            elif answer.get("response_action") != "errors":
                del self.open_views[view_id]

    def closed(self, view_id: str) -> None:
        """The person closes the modal (Cancel, or the ×)."""
        with self.lock:
            self.open_views.pop(view_id, None)

    def _function_complete(self, params: dict, token: Token) -> dict:
        """functions.completeSuccess / completeError: once per running execution of the token's team;
        a success's outputs must be the declared ones (``parameter_validation_failed`` otherwise)."""
        execution_id = params.get("function_execution_id")
        if not isinstance(execution_id, str) or not re.fullmatch(r"Fx[A-Z0-9]+", execution_id):
            return _err("invalid_function_execution_id")
        execution = self.executions.get(execution_id)
        if execution is None:
            return _err("function_execution_not_found")
        if execution["team"] != token.team:
            return _err("access_denied")
        if execution["state"] != "running":
            return _err("execution_not_in_running_state")
        if "error" in params:  # completeError
            if not isinstance(params["error"], str) or not params["error"].strip():
                return _err("invalid_arguments")
            execution["state"], execution["completion"] = "failed", {"error": params["error"]}
            return {}
        outputs = params.get("outputs")
        try:
            outputs = json.loads(outputs) if isinstance(outputs, str) else outputs
        except ValueError:
            return _err("invalid_arguments")
        if not isinstance(outputs, dict) or set(outputs) != execution["outputs"]:
            return _err("parameter_validation_failed")
        execution["state"], execution["completion"] = "completed", {"outputs": outputs}
        return {}

    def _conversations_open(self, params: dict, token: Token) -> dict:
        """The bot's direct message with one person (``users``): Slack's D… channel, opened if need be."""
        if "im:write" not in token.scopes:
            return _err("missing_scope")
        users = [u for u in (params.get("users") or "").split(",") if u]
        if len(users) != 1 or not users[0].startswith(("U", "W")):
            return _err("users_list_not_supplied" if not users else "not_enabled")
        channel = "D" + users[0]
        self.channels.setdefault(channel, Channel(public=False, members={token.bot_user, users[0]}))
        return {"channel": {"id": channel}}

    def _upload_url(self, params: dict, token: Token) -> dict:
        """files_upload_v2's first step: where to send the bytes, and the file's id."""
        if "files:write" not in token.scopes:
            return _err("missing_scope")
        length = str(params.get("length") or "")
        if not params.get("filename") or not length.isdigit() or int(length) < 1:
            return _err("invalid_arguments")
        file_id = f"F{next(self._counter):08d}"
        self.uploads[file_id] = {
            "filename": params["filename"],
            "length": int(length),
            "data": None,
            "team": token.team,
        }
        return {"upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _upload(self, file_id: str, data: bytes) -> tuple[int, str, dict]:
        with self.lock:
            upload = self.uploads.get(file_id)
            if upload is None:
                return 404, "not_found", {}
            upload["data"] = data
            self.calls.append(("upload", {"file_id": file_id, "bytes": len(data)}))
            return 200, f"OK - {len(data)}", {}

    def _complete_upload(self, params: dict, token: Token) -> dict:
        """files_upload_v2's last step: share the uploaded files in ``channel_id``."""
        try:
            files = json.loads(params.get("files") or "[]")
        except ValueError:
            return _err("invalid_arguments")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            return _err("invalid_arguments")
        uploads = [self.uploads.get(f["id"]) for f in files]
        if any(u is None or u["team"] != token.team or u["data"] is None for u in uploads):
            return _err("file_not_found")
        if any(len(u["data"]) != u["length"] for u in uploads):
            return _err("file_upload_size_mismatch")  # the bytes sent are not the length announced
        channel = params.get("channel_id") or ""
        if channel:
            error, _ = self._reachable(channel, token, post=False)
            if error:
                return _err(error)
        shared = []
        for f, u in zip(files, uploads, strict=True):
            shared.append({"id": f["id"], "title": f.get("title") or u["filename"], "name": u["filename"]})
            self.files.append(
                shared[-1] | {"channel": channel, "data": u["data"], "comment": params.get("initial_comment")}
            )
            del self.uploads[f["id"]]  # an upload is completed once
        return {"files": shared}

    def _files_info(self, params: dict, token: Token) -> dict:
        if "files:read" not in token.scopes:
            return _err("missing_scope")
        f = self.person_files.get(params.get("file") or "")
        if f is None or (f.team != token.team and token.team not in f.shared_with):
            return _err("file_not_found")
        if f.deleted:
            return _err("file_deleted")
        if not f.readable:
            return _err("access_denied")
        return {"file": self._file_object(params["file"]), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _file_bytes(self, path: str, headers) -> tuple[int, bytes, dict]:
        """GET of a file's url_private(_download): its bytes for a token allowed to read it; else the
        redirect to the sign-in page (and the sign-in page itself: a web page)."""
        if path.startswith("/signin"):
            return 200, b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>", {"Content-Type": "text/html"}
        match = re.fullmatch(r"/files-pri/([A-Z0-9]+)-(F[0-9]+)/(?:download/)?[^/]+", path)
        authorization = headers.get("Authorization") or ""
        bearer = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
        with self.lock:
            f = self.person_files.get(match.group(2)) if match else None
            token = self.tokens.get(bearer)
            allowed = (
                f is not None
                and not f.deleted
                and f.readable
                and token is not None
                and self._auth(bearer) is None
                and (token.team == f.team or token.team in f.shared_with)
                and "files:read" in token.scopes
            )
            status = 200 if allowed else 302
            self.downloads.append((match.group(2) if match else path, status))
        if not allowed:
            return 302, b"", {"Location": f"{self.base}/signin?redir={path}", "Content-Type": "text/html"}
        return 200, f.data, {"Content-Type": "application/octet-stream"}

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
            problem = block_kit_problem(payload["blocks"], "message") if payload.get("blocks") else None
            if problem:
                self.block_refusals.append(("response_url", problem))
                return 400, "msg_blocks_too_long" if problem == "msg_blocks_too_long" else "invalid_blocks", {}
            found.posts.append(payload)
            self.calls.append(("response_url", payload | {"_channel": found.channel, "_user": found.user}))
            self.times.append(time.perf_counter())
            return 200, "ok", {}


# -- Block Kit's limits (api.slack.com/reference/block-kit) -----------------------------------------------
MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS = 50, 100
MAX_MESSAGE_BLOCKS_CHARS = 13_000  # Slack answers msg_blocks_too_long past about this many characters of JSON
MAX_SECTION_TEXT, MAX_SECTION_FIELDS, MAX_FIELD_TEXT = 3000, 10, 2000
MAX_HEADER_TEXT, MAX_CONTEXT_ELEMENTS, MAX_ACTIONS_ELEMENTS = 150, 10, 25
MAX_BUTTON_TEXT, MAX_BUTTON_VALUE, MAX_ACTION_ID, MAX_BLOCK_ID = 75, 2000, 255, 255
MAX_OPTION_TEXT, MAX_OPTION_VALUE = 75, 150
OVERFLOW_OPTIONS = range(2, 6)
MAX_VIEW_TITLE, MAX_PRIVATE_METADATA, MAX_CALLBACK_ID = 24, 3000, 255
MAX_VIEW_BYTES = 250_000  # views.update's view_too_large


def block_kit_problem(blocks, surface: str = "message") -> str | None:
    """Why Slack would refuse ``blocks`` in a ``surface`` ("message" or "view"), or None.

    The first broken rule, as a readable reason; ``_block_kit_error`` turns it into Slack's error code."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return "blocks are not JSON"
    if not isinstance(blocks, list):
        return "blocks must be an array"
    most = MAX_MESSAGE_BLOCKS if surface == "message" else MAX_VIEW_BLOCKS
    if len(blocks) > most:
        return f"{len(blocks)} blocks: at most {most} in a {surface}"
    if (
        surface == "message"
        and len(json.dumps(blocks, separators=(",", ":"), ensure_ascii=False)) > MAX_MESSAGE_BLOCKS_CHARS
    ):
        return "msg_blocks_too_long"
    action_ids, block_ids = set(), set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or "type" not in block:
            return f"block {i} has no type"
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > MAX_BLOCK_ID or block_id in block_ids:
                return f"block {i}: block_id too long or repeated"
            block_ids.add(block_id)
        problem = _block_problem(block, action_ids)
        if problem:
            return f"block {i} ({block['type']}): {problem}"
    return None


def _text_of(obj) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _block_problem(block: dict, action_ids: set) -> str | None:
    kind = block["type"]
    elements: list[dict] = []
    if kind == "section":
        if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
            return f"text over {MAX_SECTION_TEXT} characters"
        fields = block.get("fields") or []
        if len(fields) > MAX_SECTION_FIELDS or any(len(_text_of(f)) > MAX_FIELD_TEXT for f in fields):
            return "too many fields or a field too long"
        if not block.get("text") and not fields:
            return "a section needs text or fields"
        elements = [block["accessory"]] if block.get("accessory") else []
    elif kind == "header":
        if not 0 < len(_text_of(block.get("text"))) <= MAX_HEADER_TEXT:
            return f"header text empty or over {MAX_HEADER_TEXT}"
    elif kind == "context":
        elements = block.get("elements") or []
        if not 0 < len(elements) <= MAX_CONTEXT_ELEMENTS:
            return f"{len(elements)} elements: 1 to {MAX_CONTEXT_ELEMENTS} in a context block"
        if any(len(_text_of(e)) > MAX_SECTION_TEXT for e in elements):
            return "context text too long"
        return None
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 0 < len(elements) <= MAX_ACTIONS_ELEMENTS:
            return f"{len(elements)} elements: 1 to {MAX_ACTIONS_ELEMENTS} in an actions block"
    elif kind == "input":
        elements = [block["element"]] if isinstance(block.get("element"), dict) else []
        if not elements or not _text_of(block.get("label")):
            return "an input needs a label and an element"
    for element in elements:
        problem = _element_problem(element, action_ids)
        if problem:
            return problem
    return None


def _element_problem(element: dict, action_ids: set) -> str | None:
    action_id = element.get("action_id")
    if action_id is not None:
        if len(action_id) > MAX_ACTION_ID:
            return f"action_id over {MAX_ACTION_ID} characters"
        if action_id in action_ids:
            return f"action_id {action_id!r} repeated"
        action_ids.add(action_id)
    kind = element.get("type")
    if kind == "button":
        if not 0 < len(_text_of(element.get("text"))) <= MAX_BUTTON_TEXT:
            return f"button text empty or over {MAX_BUTTON_TEXT}"
        if len(element.get("value") or "") > MAX_BUTTON_VALUE:
            return f"button value over {MAX_BUTTON_VALUE}"
    elif kind == "file_input":
        if not 1 <= (element.get("max_files") or 10) <= 10:
            return "file_input max_files must be 1 to 10"
        if not all(isinstance(t, str) and t for t in element.get("filetypes") or []):
            return "file_input filetypes must be file extensions"
    elif kind == "overflow":
        options = element.get("options") or []
        if len(options) not in OVERFLOW_OPTIONS:
            return f"{len(options)} overflow options: {OVERFLOW_OPTIONS.start} to {OVERFLOW_OPTIONS.stop - 1}"
        for option in options:
            if len(_text_of(option.get("text"))) > MAX_OPTION_TEXT or len(option.get("value") or "") > MAX_OPTION_VALUE:
                return "an overflow option's text or value is too long"
    return None


def view_problem(view) -> str | None:
    """Why Slack would refuse a view (Home, modal), or None."""
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return "view is not JSON"
    if not isinstance(view, dict) or view.get("type") not in ("home", "modal"):
        return "view type must be home or modal"
    if view["type"] == "modal" and not 0 < len(_text_of(view.get("title"))) <= MAX_VIEW_TITLE:
        return f"modal title empty or over {MAX_VIEW_TITLE}"
    for button in ("submit", "close"):
        if view.get(button) and len(_text_of(view[button])) > MAX_VIEW_TITLE:
            return f"{button} text over {MAX_VIEW_TITLE}"
    if len(view.get("private_metadata") or "") > MAX_PRIVATE_METADATA:
        return f"private_metadata over {MAX_PRIVATE_METADATA}"
    if len(view.get("callback_id") or "") > MAX_CALLBACK_ID:
        return f"callback_id over {MAX_CALLBACK_ID}"
    return block_kit_problem(view.get("blocks", []), "view")


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


def slash_form(
    text: str, *, user: str = "U1", channel: str = "C1", team: str = TEAM, response_url: str = "", trigger: str = "t"
) -> bytes:
    return urlencode(
        {
            "command": "/techname",
            "text": text,
            "user_id": user,
            "channel_id": channel,
            "team_id": team,
            "response_url": response_url,
            "trigger_id": trigger,
        }
    ).encode()


class _Server(ThreadingHTTPServer):
    """Slack takes every connection at once: a listen backlog of 5 (socketserver's default) would make
    a worker posting a batch's replies side by side wait a second for TCP to retry its connect."""

    request_queue_size = 1024
