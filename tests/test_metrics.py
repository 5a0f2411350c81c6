"""/metrics scraped from a real web process and a real worker, after real requests and jobs."""

from __future__ import annotations

import json
import re
import tempfile
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Queue

from testkit.processes import http, start_web, start_worker, stop_process, tnaas_env, wait_until
from tnaas.redis_server import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[1]


def scrape(url: str) -> tuple[str, dict[tuple[str, tuple], float]]:
    """(the text, {(sample name, sorted labels): value})."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture(scope="module")
def stack(trained_artifacts):
    """An embedded Redis, one worker serving metrics on its own port, and the web process."""
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        metrics_port = free_port()
        env = tnaas_env(
            trained_artifacts,
            REDIS_URL=server.url,
            TNAAS_DEFAULT_MODEL="kn3",
            TNAAS_METRICS_PORT=metrics_port,
            TNAAS_LOG_LEVEL="WARNING",
        )
        connection = Redis.from_url(server.url)
        worker = start_worker(env, connection)
        web, base = None, None
        try:
            web, base = start_web(env)
            yield base, f"http://127.0.0.1:{metrics_port}/metrics", connection
        finally:
            for process in (web, worker):
                if process is not None:
                    stop_process(process)


def test_web_metrics_count_requests_by_route_template_and_status(stack):
    base, _, _ = stack
    status, head, body = http("POST", f"{base}/api/v1/generate", {"corpus": "pokemon", "n": 3, "client": "u1"})
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", head["X-Request-ID"])
    assert http("POST", f"{base}/api/v1/generate", {"corpus": "nope"})[0] == 400
    assert http("GET", f"{base}/api/v1/answers/0123456789abcdef")[0] == 404
    assert http("GET", f"{base}/no/such/page")[0] == 404
    vote = {"answer_id": body["answer_id"], "index": 1, "direction": 1, "voter": "u1"}
    assert http("POST", f"{base}/api/v1/votes", vote)[0] == 200
    assert http("POST", f"{base}/api/v1/votes", vote)[0] == 200  # the same vote again counts once
    _, samples = scrape(f"{base}/metrics")
    requests = "tnaas_http_requests_total"
    assert value(samples, requests, method="POST", route="/api/v1/generate", status="200") == 1
    assert value(samples, requests, method="POST", route="/api/v1/generate", status="400") == 1
    assert value(samples, requests, method="GET", route="/api/v1/answers/{answer_id}", status="404") == 1
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    latency = "tnaas_http_request_seconds_count"
    assert value(samples, latency, method="POST", route="/api/v1/generate", status="200") == 1
    assert value(samples, "tnaas_votes_total", surface="web", direction="1") == 1
    assert value(samples, "tnaas_redis_up") == 1
    assert value(samples, "tnaas_workers", queue="tnaas") == 1
    assert value(samples, "tnaas_queue_depth", queue="tnaas") == 0
    assert value(samples, "tnaas_impressions_kept") == 3
    (published,) = [dict(k[1])["version"] for k in samples if k[0] == "tnaas_models_published_info"]
    held = [dict(k[1]) for k in samples if k[0] == "tnaas_models_held_info"]
    assert [h["version"] for h in held] == [published]


def test_a_request_id_given_by_the_caller_is_kept_and_a_bad_one_replaced(stack):
    base, _, _ = stack
    _, head, _ = http("GET", f"{base}/healthz", headers={"X-Request-ID": "trace-abc-12345"})
    assert head["X-Request-ID"] == "trace-abc-12345"
    _, head, _ = http("GET", f"{base}/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", head["X-Request-ID"])


def test_worker_metrics_time_jobs_by_kind_and_count_failures(stack):
    base, worker_url, connection = stack
    assert http("POST", f"{base}/api/v1/detect", {"text": "snorlax"})[0] == 200
    failing = Queue("tnaas", connection=connection).enqueue("json.loads", "{not json")  # a real failing job
    wait_until(lambda: failing.get_status(refresh=True) == "failed", timeout=30, what="the job to fail")
    _, samples = scrape(worker_url)
    assert value(samples, "tnaas_job_wait_seconds_count", kind="answer_web_batch") >= 1
    assert value(samples, "tnaas_job_run_seconds_count", kind="answer_web_batch") >= 1
    assert value(samples, "tnaas_jobs_total", kind="answer_web_batch", outcome="finished") >= 1
    assert value(samples, "tnaas_jobs_total", kind="loads", outcome="failed") == 1
    assert [k for k in samples if k[0] == "tnaas_worker_models_info"]
    _, web_samples = scrape(f"{base}/metrics")
    assert value(web_samples, "tnaas_jobs_failed_kept", queue="tnaas") == 1


def test_the_grafana_dashboard_only_uses_metrics_that_exist(stack):
    base, worker_url, _ = stack
    http("POST", f"{base}/api/v1/votes", {"answer_id": "x" * 8, "index": 1, "direction": 1, "voter": "u"})
    exported = scrape(f"{base}/metrics")[0] + scrape(worker_url)[0]
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "tnaas-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\btnaas_[a-z_]+", expr)}
    assert len(used) >= 10
    missing = sorted(name for name in used if not re.search(rf"^{name}[{{ ]", exported, re.MULTILINE))
    assert missing == []


def test_slack_listeners_run_under_the_request_id_of_their_request():
    """Bolt runs listeners in a thread pool: ours carries the request's id into them (and their jobs)."""
    from bot.slack.app import create_slack_app
    from core.observability import ContextThreadPool, current_request_id, request_context
    from core.settings import Settings
    from testkit.slack_standin import TOKEN, SlackStandIn

    with SlackStandIn() as standin:  # Bolt checks its token with auth.test when it starts
        settings = Settings(_env_file=None, slack_bot_token=TOKEN, slack_signing_secret="s", slack_api_url=standin.url)
        app = create_slack_app(settings, None)
    assert isinstance(app.listener_runner.listener_executor, ContextThreadPool)
    with request_context("req-slack-00042"):
        seen = app.listener_runner.listener_executor.submit(current_request_id).result(timeout=5)
    assert seen == "req-slack-00042"
