"""Any workspace installs the app: Bolt's OAuth flow end to end against the stand-in playing Slack
(``/slack/install`` -> Slack's consent -> ``/slack/oauth_redirect`` -> ``oauth.v2.access``), the
installation kept in our Redis, each team answered with its own token, tokens rotated once when they
are about to expire, uninstalled workspaces forgotten; SLACK_BOT_TOKEN's workspace keeps working."""

import html
import json
import os
import re
import signal
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from rq import Queue
from rq.registry import StartedJobRegistry
from slack_sdk.oauth.installation_store import Bot

from bot.slack.app import BOT_SCOPES
from bot.slack.batching import slack_job, start_slack_batch
from core.errors import Unavailable
from core.settings import Settings
from jobs.contracts import GenerateRequest, ReplyTo
from store.installations import RedisInstallationStore
from store.team_corpora import TeamCorpora, team_owner
from store.votes import VoteStore
from testkit.processes import wait_until
from testkit.slack_standin import CLIENT_ID, CLIENT_SECRET, TOKEN, post, signed_post, slash_form
from testkit.stacks import slack_stack

SECRET = "oauth-signing-secret"
QUEUE = "slack-oauth"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    env = {
        "TNAAS_QUEUE": QUEUE,
        "TNAAS_DEFAULT_MODEL": "kn3",
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,  # an existing single-workspace install (team T1) next to the OAuth ones
    }
    with slack_stack(trained_artifacts, tmp_path_factory.mktemp("redis"), **env) as s:
        yield {"base": s.base, "slack": s.slack, "redis": s.redis, "env": s.env, "redis_server": s.redis_server}


def install(stack, team: str, rotation: bool = False) -> str:
    """A person installs the app into ``team`` the way a browser does; returns the bot token Slack issued."""
    status, page, headers = post(f"{stack['base']}/slack/install", None, {}, method="GET")
    assert status == 200, page
    link = html.unescape(re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page)[1])
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == [",".join(BOT_SCOPES)]
    cookie = headers["set-cookie"].split(";")[0]
    assert cookie == f"slack-app-oauth-state={query['state'][0]}"
    code = stack["slack"].install_code(team, rotation=rotation)  # the person clicks "Allow" at Slack
    redirect = f"{stack['base']}/slack/oauth_redirect?code={code}&state={query['state'][0]}"
    status, page, _ = post(redirect, None, {"Cookie": cookie}, method="GET")
    assert status == 200, page
    bot = RedisInstallationStore(stack["redis"]).find_bot(enterprise_id=None, team_id=team)
    assert bot is not None and bot.bot_token.startswith(f"xoxb-{team}-")
    return bot.bot_token


def slash(stack, text: str, team: str, channel: str, user: str = "U1") -> tuple[int, str]:
    body = slash_form(
        text, user=user, channel=channel, team=team, response_url=stack["slack"].response_url(channel, user)
    )
    return signed_post(f"{stack['base']}/slack/events", body, FORM, SECRET)


def posts(stack, channel: str) -> list[dict]:
    return [p for p in stack["slack"].called("chat.postMessage") if p.get("channel") == channel and "_ts" in p]


def refreshes(stack) -> list[dict]:
    return [p for p in stack["slack"].called("oauth.v2.access") if p.get("grant_type") == "refresh_token"]


def settled(stack) -> None:
    wait_until(
        lambda: (
            Queue(QUEUE, connection=stack["redis"]).count == 0
            and StartedJobRegistry(QUEUE, connection=stack["redis"]).count == 0
        ),
        timeout=20,
        what="the queue to drain",
    )


def test_a_new_workspace_installs_the_app_and_is_answered_with_its_own_token(stack):
    token = install(stack, "T2")
    exchange = stack["slack"].called("oauth.v2.access")[-1]
    assert exchange["_token"] is None and "code" in exchange  # the client id and secret went as Basic auth
    status, _ = slash(stack, "cats 2", team="T2", channel="C20")
    assert status == 200
    replies = wait_until(lambda: len(p := posts(stack, "C20")) >= 2 and p, timeout=20, what="the reply")
    assert {p["_token"] for p in replies} == {token}


def test_the_single_workspace_token_keeps_working_next_to_installs(stack):
    slash(stack, "cats 2", team="T1", channel="C10")
    replies = wait_until(lambda: len(p := posts(stack, "C10")) >= 2 and p, timeout=20, what="the reply")
    assert {p["_token"] for p in replies} == {TOKEN}


def test_a_forged_or_replayed_state_installs_nothing(stack):
    _, page, headers = post(f"{stack['base']}/slack/install", None, {}, method="GET")
    state = re.search(r"state=([^&\"]+)", html.unescape(page))[1]
    code = stack["slack"].install_code("T4")
    forged = f"{stack['base']}/slack/oauth_redirect?code={code}&state=forged"
    assert post(forged, None, {"Cookie": "slack-app-oauth-state=forged"}, method="GET")[0] in (400, 401)
    cookie = headers["set-cookie"].split(";")[0]
    good = f"{stack['base']}/slack/oauth_redirect?code={code}&state={state}"
    assert post(good, None, {"Cookie": cookie}, method="GET")[0] == 200
    again = f"{stack['base']}/slack/oauth_redirect?code={stack['slack'].install_code('T5')}&state={state}"
    assert post(again, None, {"Cookie": cookie}, method="GET")[0] in (400, 401)  # a state is consumed once
    assert RedisInstallationStore(stack["redis"]).find_bot(enterprise_id=None, team_id="T5") is None
    _, page, headers = post(f"{stack['base']}/slack/install", None, {}, method="GET")
    state, cookie = re.search(r"state=([^&\"]+)", html.unescape(page))[1], headers["set-cookie"].split(";")[0]
    bogus = f"{stack['base']}/slack/oauth_redirect?code=not-a-code&state={state}"
    assert post(bogus, None, {"Cookie": cookie}, method="GET")[0] == 401  # oauth.v2.access: invalid_code


def expire_soon(stack, team: str) -> Bot:
    """The bot token of ``team`` has a minute left: due for rotation."""
    store = RedisInstallationStore(stack["redis"])
    bot = store.find_bot(enterprise_id=None, team_id=team)
    bot.bot_token_expires_at = int(time.time()) + 60
    store.save_bot(bot)
    return bot


def test_an_expiring_token_is_rotated_once_by_the_web_process_and_the_workers(stack):
    old = install(stack, "T3", rotation=True)
    expire_soon(stack, "T3")
    before = len(refreshes(stack))
    with ThreadPoolExecutor(4) as pool:  # four commands at once: Bolt authorizes each in its own thread
        statuses = list(pool.map(lambda i: slash(stack, "cats 2", team="T3", channel=f"C3{i}")[0], range(4)))
    assert statuses == [200] * 4
    for i in range(4):
        wait_until(lambda i=i: len(posts(stack, f"C3{i}")) >= 2, timeout=20, what="the replies")
    new = RedisInstallationStore(stack["redis"]).find_bot(enterprise_id=None, team_id="T3")
    assert len(refreshes(stack)) == before + 1  # refresh tokens are single-use: exactly one rotation
    assert new.bot_token != old and new.bot_token_expires_at > time.time() + 11 * 3600
    assert {p["_token"] for i in range(4) for p in posts(stack, f"C3{i}")} == {new.bot_token}

    # A worker meeting an expiring token (no request through the web process first) rotates it too.
    expire_soon(stack, "T3")
    settings = Settings(redis_url="unused", queue=QUEUE)
    reply = ReplyTo(kind="slash", channel="C39", user="U1", team="T3")
    start_slack_batch(stack["redis"], slack_job(GenerateRequest(corpus="cats", n=2), reply), settings)
    wait_until(lambda: len(posts(stack, "C39")) >= 2, timeout=20, what="the worker's reply")
    newest = RedisInstallationStore(stack["redis"]).find_bot(enterprise_id=None, team_id="T3")
    assert len(refreshes(stack)) == before + 2 and {p["_token"] for p in posts(stack, "C39")} == {newest.bot_token}


def send_event(stack, team: str, event_id: str, event: dict) -> int:
    """An Events API callback of ``team``, signed as Slack signs it; the HTTP status."""
    envelope = {
        "type": "event_callback",
        "team_id": team,
        "api_app_id": "A1",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event | {"event_ts": "1"},
    }
    return signed_post(f"{stack['base']}/slack/events", json.dumps(envelope).encode(), "application/json", SECRET)[0]


def test_an_uninstalled_workspace_is_forgotten_and_its_queued_reply_explains(stack):
    install(stack, "T6")
    assert send_event(stack, "T6", "EvUninstall", {"type": "app_uninstalled"}) == 200
    store = RedisInstallationStore(stack["redis"])
    wait_until(lambda: store.find_bot(enterprise_id=None, team_id="T6") is None, timeout=10, what="the deletion")
    response_url = stack["slack"].response_url("C60", "U1")
    body = slash_form("cats 2", channel="C60", team="T6", response_url=response_url)
    assert signed_post(f"{stack['base']}/slack/events", body, FORM, SECRET)[0] == 200
    said = wait_until(lambda: stack["slack"].responses(response_url), timeout=10, what="Bolt's answer")[0]
    assert "install" in said["text"].lower()  # Bolt: this workspace has no installation
    response_url = stack["slack"].response_url("C61", "U1")
    reply = ReplyTo(kind="slash", channel="C61", user="U1", team="T6", response_url=response_url)
    start_slack_batch(
        stack["redis"], slack_job(GenerateRequest(corpus="cats", n=2), reply), Settings(redis_url="unused", queue=QUEUE)
    )
    said = wait_until(lambda: stack["slack"].responses(response_url), timeout=20, what="the explanation")[0]
    assert "reinstall" in said["text"] and posts(stack, "C61") == []


def test_a_failed_rotation_is_a_lost_token_not_a_crash(stack):
    install(stack, "T7", rotation=True)
    bot = expire_soon(stack, "T7")
    stack["slack"].refresh_tokens.pop(bot.bot_refresh_token)  # Slack no longer knows the refresh token
    response_url = stack["slack"].response_url("C70", "U1")
    reply = ReplyTo(kind="slash", channel="C70", user="U1", team="T7", response_url=response_url)
    start_slack_batch(
        stack["redis"], slack_job(GenerateRequest(corpus="cats", n=2), reply), Settings(redis_url="unused", queue=QUEUE)
    )
    said = wait_until(lambda: stack["slack"].responses(response_url), timeout=20, what="the explanation")[0]
    assert "`token_expired`" in said["text"]
    settled(stack)


def test_with_redis_stopped_an_installed_workspace_is_acknowledged_within_three_seconds(stack):
    """With OAuth, Bolt reads the workspace's installation from Redis before any listener runs. Redis
    stopped: before, the slash command got a bare 503 after Redis' timeouts and retries (over 3 s).
    Now its ack says to try again, and an event, whose user there is no token to tell, is left to
    Slack's retry (not acknowledged)."""
    install(stack, "T8")
    mention = {"type": "app_mention", "user": "U1", "text": "cats 2", "channel": "C81", "ts": "8.1", "event_ts": "8.1"}
    envelope = {"type": "event_callback", "team_id": "T8", "event_id": "EvStopped", "event": mention}
    pid = stack["redis_server"].process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.perf_counter()
        command = slash(stack, "cats 2", team="T8", channel="C80")
        took = time.perf_counter() - start
        event = signed_post(f"{stack['base']}/slack/events", json.dumps(envelope).encode(), "application/json", SECRET)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert command == (200, str(Unavailable())) and took < 3
    assert event[0] == 503
    assert posts(stack, "C80") == posts(stack, "C81") == []


def add_team_corpus(stack, team: str, slug: str, channel: str, user: str = "U1") -> None:
    """``user`` of ``team`` adds the corpus ``slug`` with the form, until its report arrives by DM."""
    response_url = stack["slack"].response_url(channel, user)
    trigger = stack["slack"].trigger(team)
    before = len(stack["slack"].modals)
    body = slash_form("corpus add", user=user, channel=channel, team=team, response_url=response_url, trigger=trigger)
    assert signed_post(f"{stack['base']}/slack/events", body, FORM, SECRET) == (200, "")
    modal = wait_until(lambda: stack["slack"].modals[before:], timeout=10, what="the corpus modal")[-1]
    rivers = [f"{a}{b}" for a in ("vol", "dan", "rhi", "elb", "od") for b in ("ga", "ube", "ne", "er", "a")]
    values = {"name": {"value": slug}, "names": {"value": "\n".join(rivers)}, "description": {"value": None}}
    payload = {
        "type": "view_submission",
        "team": {"id": team},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A1",
        "trigger_id": "t",
        "view": modal | {"state": {"values": {k: {k: {"type": "plain_text_input"} | v} for k, v in values.items()}}},
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    assert signed_post(f"{stack['base']}/slack/events", body, FORM, SECRET) == (200, "")
    wait_until(lambda: any(f"`{slug}` is ready" in p["text"] for p in posts(stack, user)), timeout=60, what="report")


def test_uninstalling_removes_the_teams_own_corpora_their_models_and_the_names_shown_from_them(stack):
    install(stack, "T9")
    add_team_corpus(stack, "T9", "t9-rivers", "C90")
    assert slash(stack, "t9-rivers 2", "T9", "C91") == (200, "")
    wait_until(lambda: len(posts(stack, "C91")) >= 2, timeout=20, what="names from the team's corpus")
    settled(stack)
    owner = team_owner("T9")
    shown = [k for k in stack["redis"].scan_iter(VoteStore.MESSAGE_KEY.format(channel="C91", ts="*"))]
    assert TeamCorpora(stack["redis"]).slugs(owner) == ["t9-rivers"] and shown

    assert send_event(stack, "T9", "EvUninstallT9", {"type": "app_uninstalled"}) == 200
    corpora = TeamCorpora(stack["redis"])
    wait_until(lambda: corpora.slugs(owner) == [], timeout=10, what="the team's corpora removed")
    assert corpora.keys_of(owner, "t9-rivers") == []
    assert not [k for k in stack["redis"].scan_iter(VoteStore.MESSAGE_KEY.format(channel="C91", ts="*"))]


def test_a_revoked_bot_token_alone_keeps_the_teams_corpora_for_its_reinstall(stack):
    """``tokens_revoked`` without ``app_uninstalled`` (an admin revoked the token, the app stays installed):
    the bot token is forgotten, the team's corpora are kept, and a reinstall serves them again. What
    uninstalling promises (everything of the team goes) waits for ``app_uninstalled``."""
    install(stack, "T10")
    add_team_corpus(stack, "T10", "t10-rivers", "C100", user="U10")  # the stand-in's DM ids are per user
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}}
    assert send_event(stack, "T10", "EvRevokedT10", revoked) == 200
    store, owner = RedisInstallationStore(stack["redis"]), team_owner("T10")
    wait_until(lambda: store.find_bot(enterprise_id=None, team_id="T10") is None, timeout=10, what="the bot forgotten")
    settled(stack)
    assert TeamCorpora(stack["redis"]).slugs(owner) == ["t10-rivers"]

    install(stack, "T10")  # an admin installs the app again: the team's corpus answers as before
    assert slash(stack, "t10-rivers 2", "T10", "C101") == (200, "")
    names = wait_until(lambda: len(p := posts(stack, "C101")) >= 2 and p, timeout=20, what="names from the corpus")
    assert "t10-rivers" in names[0]["text"]
