"""Socket Mode offline: a local websocket server plays Slack's side, `tnaas web` connects to it."""

import json
import queue
import subprocess
import sys
import threading

import pytest
from redis import Redis
from rq import Worker
from websockets.sync.server import serve

from testkit.processes import stop_process, tnaas_env, wait_until
from testkit.slack_standin import SlackStandIn
from tnaas.redis_server import EmbeddedRedis, free_port


@pytest.fixture
def socket_slack():
    """A websocket endpoint that says hello, sends queued envelopes and collects the client's acks."""
    outbox: queue.Queue = queue.Queue()
    acks: list[dict] = []

    def handler(ws):
        ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        while True:
            try:
                envelope = outbox.get(timeout=0.1)
                ws.send(json.dumps(envelope))
            except queue.Empty:
                pass
            try:
                acks.append(json.loads(ws.recv(timeout=0.05)))
            except TimeoutError:
                pass
            except Exception:  # connection closed by the client
                return

    server = serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link", outbox, acks
    server.shutdown()


def test_a_slash_command_over_socket_mode_is_acked_and_answered(trained_artifacts, tmp_path, socket_slack):
    url, outbox, acks = socket_slack
    redis_server = EmbeddedRedis(tmp_path / "redis")
    redis_server.start()
    with SlackStandIn() as slack:
        slack.socket_url = url
        env = tnaas_env(
            trained_artifacts,
            REDIS_URL=redis_server.url,
            TNAAS_PORT=free_port(),
            TNAAS_QUEUE="socket",
            TNAAS_DEFAULT_MODEL="kn3",
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="s",
            SLACK_APP_TOKEN="xapp-test",
            TNAAS_SLACK_API_URL=slack.url,
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tnaas", kind], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for kind in ("web", "worker")
        ]
        try:
            wait_until(lambda: Worker.all(connection=Redis.from_url(redis_server.url)), timeout=60, what="the worker")
            wait_until(lambda: slack.called("apps.connections.open"), timeout=30, what="Socket Mode to connect")
            outbox.put(
                {
                    "envelope_id": "env-1",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": {
                        "command": "/techname",
                        "text": "pokemon 2",
                        "user_id": "U1",
                        "channel_id": "C1",
                        "team_id": "T1",
                        "token": "x",
                        "trigger_id": "t",
                    },
                }
            )
            wait_until(lambda: any(a.get("envelope_id") == "env-1" for a in acks), timeout=20, what="the ack")
            posts = wait_until(
                lambda: (p := slack.called("chat.postMessage")) and len(p) >= 2 and p,
                timeout=20,
                what="the threaded reply",
            )
            assert posts[0]["text"] == "<@U1> asked for 2 pokemon names" and posts[1]["thread_ts"] == posts[0]["_ts"]
        finally:
            for p in procs:
                stop_process(p)
            redis_server.stop()
