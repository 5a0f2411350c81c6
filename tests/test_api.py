"""The JSON API over HTTP against the real stack: a redis-server, `tnaas web` and `tnaas worker` processes."""

import re
import socket
import time
from pathlib import Path

import pytest
from redis import Redis
from rq.registry import FailedJobRegistry

from bot.api.schemas import CheckIn, CompleteIn, DetectIn, GenerateIn, LikeIn
from core.examples import example_of
from core.limits import MAX_API_BODY, SEED_MAX
from store.votes import Impression, VoteStore
from testkit.processes import http, start_web, start_worker, stop_process, tnaas_env, voter_cookie, wait_until
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
        trained_artifacts,
        REDIS_URL=redis_url,
        TNAAS_QUEUE="api",
        TNAAS_USER_RATE=1000,
        TNAAS_VOTE_RATE=1000,
        TNAAS_DEFAULT_MODEL="kn3",
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
    assert (names["corpus"], names["model"], names["model_chosen_by"]) == ("pokemon", "kn3", "default")  # no vote yet
    assert len({c["name"] for c in names["candidates"]}) == 4 and names["ranked_by"].startswith("believability ")
    alice, bob = {"Cookie": voter_cookie(api["base"])}, {"Cookie": voter_cookie(api["base"])}  # two page visits
    vote = {"answer_id": answer["answer_id"], "index": 2, "direction": 1}
    assert post(api, "/votes", vote, headers=alice)[2] == {
        "answer_id": answer["answer_id"],
        "index": 2,
        "up": 1,
        "down": 0,
    }
    assert post(api, "/votes", vote, headers=alice)[2]["up"] == 1  # the same person again: still one vote
    assert post(api, "/votes", vote, headers=bob)[2]["up"] == 2
    assert post(api, "/votes", vote | {"added": False}, headers=bob)[2]["up"] == 1
    rows = [r for r in VoteStore(api["redis"]).export() if r["ts"] == answer["answer_id"]]
    assert [r["name"] for r in rows] == [c["name"] for c in names["candidates"]]
    assert rows[1]["up"] == 1 and rows[1]["surface"] == "web" and rows[1]["requested_by"] == "client:tester"
    standings = http("GET", f"{api['base']}/api/v1/models?corpus=pokemon")[2]["standings"]
    assert sum(s["shown"] for s in standings) >= 4 and sum(s["up"] for s in standings) >= 1
    again = post(api, "/generate", {"corpus": "pokemon", "n": 4})[2]["names"]
    assert again["model_chosen_by"] == "bandit"  # now the team's votes decide (the page: "picked by votes")


def test_votes_on_unknown_answers_or_positions_are_refused(api):
    _, _, answer = post(api, "/generate", {"corpus": "cats", "n": 2})
    status, _, body = post(api, "/votes", {"answer_id": answer["answer_id"], "index": 3})
    assert status == 400 and "has 2 names" in body["error"]
    status, _, body = post(api, "/votes", {"answer_id": "0123456789abcdef", "index": 1})
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
    assert status == 200 and "pokemon" in answer["sounds_like"]["real_in"]  # and a Debian package
    assert answer["sounds_like"]["verdict"]["label"] == "pokemon"  # the product's question, answered first
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
        # The limit counts per clock minute (store.rate_limit): start the four requests early in one.
        if (left := 60 - time.time() % 60) < 20:
            time.sleep(left + 0.1)
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


def test_an_api_token_guards_the_api_but_not_the_page(trained_artifacts, redis_url, api):
    env = tnaas_env(trained_artifacts, REDIS_URL=redis_url, TNAAS_API_TOKEN="s3cret", TNAAS_QUEUE="api")
    web, base = start_web(env)
    token = {"Authorization": "Bearer s3cret"}
    try:
        status, head, body = http("GET", f"{base}/api/v1/corpora")
        assert status == 401 and "Bearer" in body["error"] and head["WWW-Authenticate"] == "Bearer"
        assert http("GET", f"{base}/api/v1/corpora", headers={"Authorization": "Bearer nope"})[0] == 401
        status, _, corpora = http("GET", f"{base}/api/v1/corpora", headers=token)
        assert status == 200 and {c["name"]: c["models"] for c in corpora}["pokemon"] == ["kn3", "markov2"]
        assert http("GET", f"{base}/")[0] == 200
        assert http("POST", f"{base}/api/v1/generate", raw=b"{not json")[0] == 401  # the token first, then the body
        assert unauthenticated_megabytes(base, 50 * 2**20).startswith(b"HTTP/1.1 401")
        # A token holder vouches for its own users: their voter ids count (an integration's people).
        _, _, answer = http("POST", f"{base}/api/v1/generate", {"corpus": "cats", "n": 2}, headers=token)
        for voter in ("u1", "u2", "u2"):
            vote = {"answer_id": answer["answer_id"], "index": 1, "voter": voter}
            status, _, tally = http("POST", f"{base}/api/v1/votes", vote, headers=token)
        assert status == 200 and tally["up"] == 2
    finally:
        stop_process(web)


def unauthenticated_megabytes(base: str, size: int) -> bytes:
    """Announce ``size`` bytes of body without a token, send the first 64 KB: the answer must come
    without the rest being read (a server that reads it all first would wait here until the timeout)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"POST /api/v1/generate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        sock.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode() + b"[" * 65536)
        return sock.recv(4096)


def test_votes_are_rate_limited_per_person_then_per_address_and_proxy_headers_trusted_only_from_listed_proxies(
    trained_artifacts, tmp_path
):
    with EmbeddedRedis(tmp_path / "redis") as server:
        store = VoteStore(Redis.from_url(server.url))
        store.record_impressions(
            [
                Impression(
                    channel="web",
                    ts="0123456789abcdef",
                    index=1,
                    name="pika",
                    corpus="pokemon",
                    model="kn3",
                    model_version="v",
                    shown_at=0,
                )
            ]
        )
        vote = {"answer_id": "0123456789abcdef", "index": 1, "voter": "anyone"}  # a named voter counts for nothing
        env = tnaas_env(trained_artifacts, REDIS_URL=server.url, TNAAS_VOTE_RATE=3, TNAAS_ADDRESS_PEOPLE=2)
        trusting = env | {"TNAAS_FORWARDED_ALLOW_IPS": "127.0.0.1"}
        web, base = start_web(env)
        proxied, proxied_base = None, None
        try:
            spoofed = [
                http("POST", f"{base}/api/v1/votes", vote, headers={"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(4)
            ]
            assert [s for s, _, _ in spoofed] == [200, 200, 200, 429]  # one address, whatever the header says
            _, head, body = spoofed[-1]
            assert "Easy there" in body["error"] and int(head["Retry-After"]) <= 60
            person = {"Cookie": voter_cookie(base)}  # someone else behind that address: a vote rate of their own ...
            votes = [http("POST", f"{base}/api/v1/votes", vote, headers=person) for _ in range(3)]
            assert [s for s, _, _ in votes] == [200, 200, 429] and "your address" in votes[2][2]["error"]
            # ... up to the address' flood guard: TNAAS_ADDRESS_PEOPLE x 3 votes a minute (4 + 3 > 6)
            proxied, proxied_base = start_web(trusting)
            behind_proxy = [
                http("POST", f"{proxied_base}/api/v1/votes", vote, headers={"X-Forwarded-For": f"10.0.1.{i}"})[0]
                for i in range(4)
            ]
            assert behind_proxy == [200] * 4  # a listed proxy's header names the client: four clients
        finally:
            stop_process(web)
            if proxied is not None:
                stop_process(proxied)


def test_people_behind_one_address_each_get_their_own_rate_and_one_client_cannot_flood(trained_artifacts, tmp_path):
    """An office behind one NAT: each page visitor (signed voter cookie) has TNAAS_USER_RATE requests a
    minute; the address as a whole TNAAS_ADDRESS_PEOPLE times that, whatever cookies a client collects.
    No budget of the whole site caps them (a Slack workspace's rate, TNAAS_TEAM_RATE, is not the web's)."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        env = tnaas_env(
            trained_artifacts,
            REDIS_URL=server.url,
            TNAAS_QUEUE="api-nobody",  # no worker: answers queue (202) or the queue is full (503), never 429 here
            TNAAS_API_WAIT=1,
            TNAAS_MAX_QUEUE=1,
            TNAAS_USER_RATE=2,
            TNAAS_ADDRESS_PEOPLE=3,
            TNAAS_TEAM_RATE=4,
        )
        web, base = start_web(env)
        try:
            people = [{"Cookie": voter_cookie(base)} for _ in range(4)]
            if (left := 60 - time.time() % 60) < 20:  # the limits count per clock minute: start early in one
                time.sleep(left + 0.1)

            def ask(headers=None):
                return http("POST", f"{base}/api/v1/generate", {"corpus": "cats", "n": 2}, headers=headers)

            assert all(ask(person)[0] != 429 for person in people[:3] for _ in range(2))  # 3 people, 2 each
            status, head, body = ask(people[0])
            assert status == 429 and "you have asked a lot" in body["error"] and int(head["Retry-After"]) <= 60
            status, _, body = ask(people[3])  # a fourth cookie from the same address: over the address' guard
            assert status == 429 and "your address has asked a lot" in body["error"]
            assert ask()[0] == 429  # no cookie at all: still that address
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


ROUTE_ERRORS = {  # what each route really answers besides 200 (401 only with TNAAS_API_TOKEN set)
    "POST /api/v1/generate": {"202", "400", "401", "413", "429", "500", "503"},
    "POST /api/v1/complete": {"202", "400", "401", "413", "429", "500", "503"},
    "POST /api/v1/like": {"202", "400", "401", "413", "429", "500", "503"},
    "POST /api/v1/check": {"202", "400", "401", "413", "429", "500", "503"},
    "POST /api/v1/detect": {"202", "400", "401", "413", "429", "500", "503"},
    "GET /api/v1/answers/{answer_id}": {"202", "400", "401", "404", "500", "503"},
    "POST /api/v1/votes": {"400", "401", "404", "413", "429", "503"},
    "GET /api/v1/top": {"400", "401", "429", "503"},
    "GET /api/v1/corpora": {"401"},
    "POST /api/v1/corpora": {"202", "400", "401", "409", "413", "429", "503"},
    "GET /api/v1/corpora/{name}": {"401", "404"},
    "DELETE /api/v1/corpora/{name}": {"401", "404"},
    "GET /api/v1/models": {"400", "401", "503"},
    "GET /healthz": {"503"},
}
EXAMPLE_REQUESTS = {
    "/generate": GenerateIn,
    "/complete": CompleteIn,
    "/like": LikeIn,
    "/check": CheckIn,
    "/detect": DetectIn,
}


def test_openapi_describes_every_field_with_an_example_and_only_errors_that_happen(api):
    """A client generated from /openapi.json (or a person reading it) learns what each field means, sees a
    value, handles the statuses each route really answers (400 for bad input, never FastAPI's 422), and
    knows where the token goes."""
    spec = http("GET", f"{api['base']}/openapi.json")[2]
    schemas = spec["components"]["schemas"]
    undocumented = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, about in schema.get("properties", {}).items()
        if not about.get("description") or not about.get("examples")
    ]
    assert not undocumented and "HTTPValidationError" not in schemas
    operations = {f"{verb.upper()} {path}": op for path, ops in spec["paths"].items() for verb, op in ops.items()}
    assert {route: set(op["responses"]) - {"200"} for route, op in operations.items()} == ROUTE_ERRORS
    token = spec["components"]["securitySchemes"]["apiToken"]
    assert token["type"] == "http" and token["scheme"] == "bearer" and "TNAAS_API_TOKEN" in token["description"]
    assert all(op["security"] == [{"apiToken": []}, {}] for route, op in operations.items() if "/api/" in route)
    # The statuses bad requests really get are the documented ones.
    assert post(api, "/generate", {"corpus": "pokemon", "n": "many"})[0] == 400
    assert http("GET", f"{api['base']}/api/v1/models?corpus=digimon")[0] == 400
    assert http("GET", f"{api['base']}/api/v1/answers/no-such-answer")[0] == 404
    for path, schema in EXAMPLE_REQUESTS.items():  # and the examples work as they are
        status, _, answer = post(api, path, example_of(schema))
        assert status == 200 and answer["status"] == "done", (path, answer)


def test_top_names_the_corpus_of_each_name(api):
    _, _, answer = post(api, "/generate", {"corpus": "cats", "n": 2})
    for _ in range(2):  # two people: ahead of the names other tests voted on once
        voter = {"Cookie": voter_cookie(api["base"])}
        assert post(api, "/votes", {"answer_id": answer["answer_id"], "index": 1}, headers=voter)[0] == 200
    status, _, top = http("GET", f"{api['base']}/api/v1/top")
    name = answer["names"]["candidates"][0]["name"]
    assert status == 200 and all(set(row) == {"name", "corpus", "votes"} for row in top)
    assert any(row["name"] == name and row["corpus"] == "cats" and row["votes"] >= 2 for row in top), top


def test_a_seed_and_the_model_that_answered_repeat_the_names(api):
    """The page's link to an answer names the model that made it, with the seed: opened later, it shows
    the same names (the bandit's pick draws from its own stream, not from the names')."""
    first = post(api, "/generate", {"corpus": "pokemon", "n": 5, "seed": 7})[2]["names"]
    again = post(api, "/generate", {"corpus": "pokemon", "n": 5, "seed": 7, "model": first["model"]})[2]["names"]
    assert first["model_chosen_by"] != "request" and again["model_chosen_by"] == "request"
    assert [c["name"] for c in again["candidates"]] == [c["name"] for c in first["candidates"]]


def test_the_page_is_served_whole_from_here(api):
    status, head, html = http("GET", f"{api['base']}/")
    assert status == 200 and "<title>TNaaS" in html and "default-src 'self'" in head["Content-Security-Policy"]
    for path in STATIC.iterdir():  # nothing fetched from another host: it works offline
        text = path.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path.name
        assert not re.search(r"""(fetch|import)\(\s*["'`]https?:""", text), path.name
        assert http("GET", f"{api['base']}/static/{path.name}")[0] == 200


# -- bad input: every refusal is JSON {"error": ...} with the status that says why ----------------------
@pytest.mark.parametrize("seed", [-1, -(10**30), 2**63])
def test_seeds_out_of_range_are_a_400_not_a_failed_job(api, seed):
    failed = FailedJobRegistry("api", connection=api["redis"])
    before = failed.get_job_count(cleanup=False)
    status, _, body = post(api, "/generate", {"corpus": "pokemon", "n": 2, "seed": seed})
    assert status == 400 and body["error"].startswith("seed: Input should be"), body
    assert failed.get_job_count(cleanup=False) == before


def test_the_largest_seed_works(api):
    status, _, body = post(api, "/generate", {"corpus": "pokemon", "n": 2, "seed": SEED_MAX})
    assert status == 200 and len(body["names"]["candidates"]) == 2


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"[" * 5000 + b"]" * 5000, 400, "nested too deeply"),
        (b'{"corpus": "pokemon", "x": ' + b"[" * 20 + b"]" * 20 + b"}", 400, "nested too deeply"),
        (b'{"corpus": "pok\xe9mon"}', 400, "not valid UTF-8"),
        (b'{"corpus": "pokemon", "n": ' + b"9" * 5000 + b"}", 400, "A number in the request has 5,000 characters"),
        (b'{"corpus": "pokemon", "seed": NaN}', 400, "NaN is not a number JSON allows"),
        (b'{"corpus": "pokemon", "pad": "' + b"x" * (MAX_API_BODY + 1) + b'"}', 413, "larger than 65,536 bytes"),
    ],
)
def test_malformed_bodies_are_refused_in_our_words(api, raw, status, message):
    got, _, body = post(api, "/generate", raw=raw)
    assert got == status and message in body["error"] and set(body) == {"error"}, body


def test_the_frameworks_own_errors_are_ours_too(api):
    status, _, body = http("GET", f"{api['base']}/api/v1/no-such-thing")
    assert status == 404 and body == {"error": "Not Found"}
    status, _, body = http("GET", f"{api['base']}/api/v1/generate")
    assert status == 405 and body == {"error": "Method Not Allowed"}
    status, _, body = post(api, "/generate", {"corpus": "pokemon"}, headers={"Idempotency-Key": "x"})
    assert status == 400 and "idempotency-key" in body["error"]


def test_invented_voter_ids_from_one_address_are_one_voter(api):
    _, _, answer = post(api, "/generate", {"corpus": "cats", "n": 2})
    for i in range(100):
        status, _, tally = post(api, "/votes", {"answer_id": answer["answer_id"], "index": 1, "voter": f"sock-{i}"})
        assert status == 200
    assert tally["up"] == 1
    status, _, tally = post(
        api, "/votes", {"answer_id": answer["answer_id"], "index": 1}, headers={"Cookie": "tnaas_voter=forged.0000"}
    )
    assert status == 200 and tally["up"] == 1  # a forged cookie is no voter either: still the address


def test_a_retry_under_the_same_idempotency_key_gets_the_first_answer(api):
    key = {"Idempotency-Key": "retry-key-0001"}
    status, _, first = post(api, "/generate", {"corpus": "cats", "n": 3}, headers=key)
    assert status == 200
    status, _, again = post(api, "/generate", {"corpus": "cats", "n": 3}, headers=key)
    assert status == 200 and again == first  # the same job, not a second one
    status, _, other = post(api, "/generate", {"corpus": "cats", "n": 2}, headers=key)
    assert status == 200 and other["answer_id"] != first["answer_id"]  # another request under the key: another job


def test_an_idempotency_key_is_its_callers_own(api):
    """Before: another caller sending the same key and body got the first caller's answer (and could
    vote on it). Two page visitors, and a caller without a cookie (its address), each get their own."""
    body, key = {"corpus": "cats", "n": 2}, {"Idempotency-Key": "shared-key-0001"}
    alice, bob = {"Cookie": voter_cookie(api["base"])}, {"Cookie": voter_cookie(api["base"])}
    first = post(api, "/generate", body, headers=key | alice)[2]
    again = post(api, "/generate", body, headers=key | alice)[2]
    other = post(api, "/generate", body, headers=key | bob)[2]
    anonymous = post(api, "/generate", body, headers=key)[2]
    assert again == first  # the same caller's retry: the first answer
    assert len({first["answer_id"], other["answer_id"], anonymous["answer_id"]}) == 3


def test_a_client_named_like_a_slack_user_keeps_its_requests_when_that_user_is_forgotten(api):
    """Before: a caller-chosen `client` was stored as it came, so forgetting the Slack user U0NAMESAKE
    (`tnaas votes forget --user U0NAMESAKE`) deleted the caller's requests too."""
    _, _, answer = post(api, "/generate", {"corpus": "cats", "n": 2, "client": "U0NAMESAKE"})
    store = VoteStore(api["redis"])
    store.forget_user("U0NAMESAKE")
    rows = [r for r in store.export() if r["ts"] == answer["answer_id"]]
    assert [r["requested_by"] for r in rows] == ["client:U0NAMESAKE"] * 2
    assert store.forget_user("client:U0NAMESAKE") == (0, 2)  # the caller's own name still forgets them
