"""The JSON API over HTTP against the real stack: a redis-server, `tnaas web` and `tnaas worker` processes."""

import re
from pathlib import Path

import pytest
from redis import Redis

from store.votes import VoteStore
from testkit.processes import http, start_web, start_worker, stop_process, tnaas_env, wait_until
from tnaas.redis_server import EmbeddedRedis

STATIC = Path(__file__).parents[1] / "bot" / "static"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def api(trained_artifacts, redis_url):
    env = tnaas_env(
        trained_artifacts, REDIS_URL=redis_url, TNAAS_QUEUE="api", TNAAS_USER_RATE=1000, TNAAS_DEFAULT_MODEL="kn3"
    )
    connection = Redis.from_url(redis_url)
    worker = start_worker(env, connection)
    try:
        web, base = start_web(env)
    except BaseException:
        stop_process(worker)
        raise
    try:
        yield {"base": base, "redis": connection, "env": env}
    finally:
        stop_process(web)
        stop_process(worker)


def post(api, path: str, body=None, **kw):
    return http("POST", f"{api['base']}/api/v1{path}", body, **kw)


def test_generate_answers_n_names_and_votes_go_to_the_shared_store(api):
    status, _, answer = post(api, "/generate", {"corpus": "pokemon", "n": 4, "client": "tester"})
    assert status == 200 and answer["status"] == "done"
    names = answer["names"]
    assert (
        names["corpus"] == "pokemon" and names["model"] in ("kn3", "markov2") and names["model_chosen_by"] == "bandit"
    )
    assert len({c["name"] for c in names["candidates"]}) == 4 and names["ranked_by"] == "judge"
    vote = {"answer_id": answer["answer_id"], "index": 2, "direction": 1, "voter": "web-abc"}
    assert post(api, "/votes", vote)[2] == {"answer_id": answer["answer_id"], "index": 2, "up": 1, "down": 0}
    assert post(api, "/votes", vote)[2]["up"] == 1  # the same person again: still one vote
    assert post(api, "/votes", vote | {"voter": "web-def"})[2]["up"] == 2
    assert post(api, "/votes", vote | {"voter": "web-def", "added": False})[2]["up"] == 1
    rows = [r for r in VoteStore(api["redis"]).export() if r["ts"] == answer["answer_id"]]
    assert [r["name"] for r in rows] == [c["name"] for c in names["candidates"]]
    assert rows[1]["up"] == 1 and rows[1]["surface"] == "web" and rows[1]["requested_by"] == "tester"
    standings = http("GET", f"{api['base']}/api/v1/models?corpus=pokemon")[2]["standings"]
    assert sum(s["shown"] for s in standings) >= 4 and sum(s["up"] for s in standings) >= 1


def test_votes_on_unknown_answers_or_positions_are_refused(api):
    _, _, answer = post(api, "/generate", {"corpus": "cats", "n": 2})
    status, _, body = post(api, "/votes", {"answer_id": answer["answer_id"], "index": 3, "voter": "web-abc"})
    assert status == 400 and "has 2 names" in body["error"]
    status, _, body = post(api, "/votes", {"answer_id": "0123456789abcdef", "index": 1, "voter": "web-abc"})
    assert status == 404 and "No answer" in body["error"]
    status, _, body = post(api, "/votes", {"answer_id": answer["answer_id"], "index": 1, "voter": "<!channel>"})
    assert status == 400 and body["error"].startswith("voter:")


def test_complete_keeps_the_known_letters(api):
    status, _, answer = post(api, "/complete", {"pattern": "*u*a", "corpus": "pokemon", "n": 5})
    assert status == 200 and answer["names"]["pattern"] == "*u*a"
    assert answer["names"]["candidates"] and all(re.fullmatch(".u.a", c["name"]) for c in answer["names"]["candidates"])
    status, _, answer = post(api, "/complete", {"pattern": "\u200bMO**\u200b", "corpus": "cats"})  # odd Unicode, caps
    assert status == 200 and all(c["name"].startswith("mo") for c in answer["names"]["candidates"])


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/generate", {"corpus": "digimon"}, "I don't know a corpus called 'digimon'. Try one of: pokemon"),
        ("/generate", {"corpus": "pokemon", "n": 0}, "n: Input should be greater than or equal to 1"),
        ("/generate", {"corpus": "pokemon", "n": 21}, "between 1 and 20 names"),
        ("/generate", {"corpus": "pokemon", "model": "gpt9"}, "I don't know a model called 'gpt9'"),
        ("/generate", {"n": 3}, "corpus: Field required"),
        ("/complete", {"pattern": "   ", "corpus": "pokemon"}, "The pattern is empty"),
        ("/complete", {"pattern": "*" * 40, "corpus": "pokemon"}, "at most 32 characters"),
        ("/complete", {"pattern": "ж*ж", "corpus": "pokemon"}, "ж"),  # found by the worker: no pokemon name has it
        ("/detect", {"text": ""}, "Give me a name or some text"),
        ("/detect", {"text": "x" * 2001}, "text: String should have at most 2000 characters"),
    ],
)
def test_bad_input_is_a_400_that_says_what_was_wrong(api, path, body, message):
    status, _, answer = post(api, path, body)
    assert status == 400 and message in answer["error"], answer


def test_a_body_that_is_not_json_is_a_400(api):
    status, _, answer = post(api, "/generate", raw=b"{corpus: pokemon")
    assert status == 400 and answer == {"error": "The request body is not valid JSON."}


def test_detect_answers_what_a_name_sounds_like(api):
    status, _, answer = post(api, "/detect", {"text": "snorlax"})
    assert status == 200 and answer["sounds_like"]["real_in"] == ["pokemon"]
    status, _, answer = post(api, "/detect", {"text": "<img src=x onerror=alert(1)> hej på dig"})
    assert status == 200 and answer["sounds_like"]["text"].startswith("<img")  # data, escaped by whoever renders it


def test_slow_answers_come_back_as_an_id_to_poll_and_a_full_queue_is_busy(trained_artifacts, tmp_path):
    """No worker on this queue: the API returns 202 + a poll URL; once the queue is full, 503; then 429."""
    server = EmbeddedRedis(tmp_path / "redis")  # its own Redis: rate-limit counters start at zero
    redis_url = server.start()
    env = tnaas_env(
        trained_artifacts,
        REDIS_URL=redis_url,
        TNAAS_QUEUE="api-idle",
        TNAAS_API_WAIT=1,
        TNAAS_MAX_QUEUE=1,
        TNAAS_USER_RATE=3,
        TNAAS_DEFAULT_MODEL="kn3",
    )
    web, base = start_web(env)
    worker = None
    try:
        status, _, queued = http("POST", f"{base}/api/v1/generate", {"corpus": "cats", "n": 3})
        assert (
            status == 202
            and queued["status"] == "queued"
            and queued["poll"] == f"/api/v1/answers/{queued['answer_id']}"
        )
        status, head, busy = http("POST", f"{base}/api/v1/generate", {"corpus": "cats"})
        assert status == 503 and "busy" in busy["error"] and head["Retry-After"]
        http("POST", f"{base}/api/v1/generate", {"corpus": "cats"})  # the third request this minute
        status, head, limited = http("POST", f"{base}/api/v1/generate", {"corpus": "cats"})
        assert status == 429 and "Easy there" in limited["error"] and int(head["Retry-After"]) == 60
        assert http("GET", f"{base}{queued['poll']}")[0] == 202
        worker = start_worker(env, Redis.from_url(redis_url))
        status, _, done = wait_until(
            lambda: (r := http("GET", f"{base}{queued['poll']}"))[0] == 200 and r, timeout=30, what="the queued answer"
        )
        assert done["status"] == "done" and len(done["names"]["candidates"]) == 3
        assert http("GET", f"{base}/api/v1/answers/0123456789abcdef")[0] == 404
    finally:
        stop_process(web)
        if worker:
            stop_process(worker)
        server.stop()


def test_an_api_token_guards_the_api_but_not_the_page(trained_artifacts, redis_url):
    env = tnaas_env(trained_artifacts, REDIS_URL=redis_url, TNAAS_API_TOKEN="s3cret")
    web, base = start_web(env)
    try:
        status, head, body = http("GET", f"{base}/api/v1/corpora")
        assert status == 401 and "Bearer" in body["error"] and head["WWW-Authenticate"] == "Bearer"
        assert http("GET", f"{base}/api/v1/corpora", headers={"Authorization": "Bearer nope"})[0] == 401
        status, _, corpora = http("GET", f"{base}/api/v1/corpora", headers={"Authorization": "Bearer s3cret"})
        assert status == 200 and {c["name"]: c["models"] for c in corpora}["pokemon"] == ["kn3", "markov2"]
        assert http("GET", f"{base}/")[0] == 200
    finally:
        stop_process(web)


def test_cors_only_for_configured_origins(trained_artifacts, redis_url, api):
    preflight = {"Origin": "https://names.example", "Access-Control-Request-Method": "POST"}
    _, head, _ = http("OPTIONS", f"{api['base']}/api/v1/generate", headers=preflight)
    assert "Access-Control-Allow-Origin" not in head  # default: no cross-origin callers
    env = tnaas_env(trained_artifacts, REDIS_URL=redis_url, TNAAS_CORS_ORIGINS='["https://names.example"]')
    web, base = start_web(env)
    try:
        status, head, _ = http("OPTIONS", f"{base}/api/v1/generate", headers=preflight)
        assert status == 200 and head["Access-Control-Allow-Origin"] == "https://names.example"
        _, head, _ = http("OPTIONS", f"{base}/api/v1/generate", headers=preflight | {"Origin": "https://evil.example"})
        assert head.get("Access-Control-Allow-Origin") != "https://evil.example"
    finally:
        stop_process(web)


def test_openapi_documents_the_api_and_its_errors(api):
    status, _, spec = http("GET", f"{api['base']}/openapi.json")
    assert status == 200
    generate = spec["paths"]["/api/v1/generate"]["post"]
    assert {"200", "202", "400", "429", "503"} <= set(generate["responses"])
    assert {"/api/v1/complete", "/api/v1/detect", "/api/v1/votes", "/api/v1/answers/{answer_id}"} <= set(spec["paths"])


def test_the_page_is_served_whole_from_here(api):
    status, head, html = http("GET", f"{api['base']}/")
    assert status == 200 and "<title>TNaaS" in html and "default-src 'self'" in head["Content-Security-Policy"]
    for path in STATIC.iterdir():  # nothing fetched from another host: it works offline
        text = path.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path.name
        assert not re.search(r"""(fetch|import)\(\s*["'`]https?:""", text), path.name
        assert http("GET", f"{api['base']}/static/{path.name}")[0] == 200
