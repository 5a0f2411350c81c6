"""Live checks against a local stand-in index and npm registry, cached in a real redis-server.

Every failure a registry can show -- slow, HTTP 500, garbage, a base URL that 404s everything, a
refused connection, an index that only speaks HTML -- ends as "unknown" (or "taken" when the snapshot
lists the name), never as "free".
"""

import time

import pytest
from redis import Redis

from availability.checker import AvailabilityChecker
from availability.config import RegistryEndpoint
from availability.live import LiveChecker
from availability.marks import Verdict
from availability.rules import NPM, PYPI
from availability.snapshot import Snapshot
from store.availability import AvailabilityCache
from testkit.registry_standin import RegistryStandin
from tnaas.redis_server import EmbeddedRedis, free_port

PYPI_NAMES = ["pip", "requests", "Django", "zope.interface", "numpy"]
NPM_NAMES = ["npm", "left-pad", "react-native", "@babel/core", "lodash"]
CANARIES = {PYPI: "pip", NPM: "npm"}
TIMEOUT = 3.0  # a working registry answers in milliseconds; a loaded test machine may take a second


@pytest.fixture
def registry():
    with RegistryStandin(PYPI_NAMES, NPM_NAMES) as standin:
        yield standin


@pytest.fixture
def redis_connection(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield Redis.from_url(server.url)
    server.stop()


def snapshots(pypi=PYPI_NAMES, npm=NPM_NAMES) -> dict:
    return {PYPI: Snapshot.build(PYPI, pypi, "test"), NPM: Snapshot.build(NPM, npm, "test")}


def checker_for(standin: RegistryStandin, snaps=None, cache=None, timeout=TIMEOUT, npm_url=None) -> AvailabilityChecker:
    ends = {
        PYPI: RegistryEndpoint(PYPI, standin.pypi_url, "test"),
        NPM: RegistryEndpoint(NPM, npm_url or standin.npm_url, "test"),
    }
    live = LiveChecker(ends, timeout)
    return AvailabilityChecker(snapshots() if snaps is None else snaps, live, cache, CANARIES)


def verdicts(checker, names, registries=(PYPI, NPM)):
    try:
        return [{r: m.verdict for r, m in marks.items()} for marks in checker.check(names, registries)]
    finally:
        checker.live.close()


def test_taken_free_and_not_allowed_on_a_working_registry(registry):
    names = [
        "requests",
        "Zope_Interface",
        "kafkify",
        "left-pad",
        "leftpad",
        "@babel/core",
        "@me/kafkify",
        "os",
        "num.py",
    ]
    got = verdicts(checker_for(registry), names)
    assert [g[PYPI] for g in got] == [
        Verdict.TAKEN,
        Verdict.TAKEN,
        Verdict.FREE,
        Verdict.FREE,
        Verdict.FREE,
        Verdict.REFUSED,
        Verdict.REFUSED,
        Verdict.REFUSED,
        Verdict.REFUSED,
    ]
    assert [g[NPM] for g in got] == [
        Verdict.FREE,
        Verdict.REFUSED,
        Verdict.FREE,
        Verdict.TAKEN,
        Verdict.REFUSED,
        Verdict.TAKEN,
        Verdict.FREE,
        Verdict.REFUSED,
        Verdict.FREE,
    ]


def test_marks_say_where_they_come_from_and_why(registry):
    checker = checker_for(registry)
    marks = checker.check(["leftpad", "kafkify", "os"], (NPM,))
    checker.live.close()
    assert "too similar" in marks[0][NPM].reason and marks[0][NPM].source == "snapshot"
    assert marks[1][NPM].source == "live"
    assert marks[2][NPM].source == "rules" and "core module" in marks[2][NPM].reason


def test_an_index_that_only_speaks_pep503_html_works_too():
    with RegistryStandin(PYPI_NAMES, NPM_NAMES, mode="html") as standin:
        got = verdicts(checker_for(standin), ["requests", "kafkify"], (PYPI,))
    assert [g[PYPI] for g in got] == [Verdict.TAKEN, Verdict.FREE]


def test_without_a_snapshot_a_404_reads_not_registered_and_says_what_was_not_checked(registry):
    """No operator step needed for marks that mean something: the registry's 404 (its canary found) is
    "not registered", a verdict of its own, because the "too similar" rule needs every name to check."""
    checker = checker_for(registry, snaps={})
    marks = checker.check(["kafkify", "requests", "@me/kafkify", "os"], (PYPI, NPM))
    checker.live.close()
    kafkify = marks[0]
    assert kafkify[PYPI].verdict is Verdict.NOT_REGISTERED and kafkify[NPM].verdict is Verdict.NOT_REGISTERED
    assert "too similar" in kafkify[PYPI].reason and "not checked" in kafkify[PYPI].reason
    assert "availability refresh pypi" in kafkify[PYPI].reason and kafkify[PYPI].source == "live"
    assert not kafkify[PYPI].free and kafkify[PYPI].usable
    assert marks[1][PYPI].verdict is Verdict.TAKEN
    assert marks[2][NPM].verdict is Verdict.FREE  # scoped names have no similarity rule: nothing left unchecked
    assert marks[3][PYPI].verdict is Verdict.REFUSED  # the rules need no snapshot


@pytest.mark.parametrize("mode", ["slow", "broken", "garbage", "lost", "reset"])
def test_without_a_snapshot_a_registry_that_does_not_answer_is_unknown(mode):
    with RegistryStandin(PYPI_NAMES, NPM_NAMES, mode=mode, delay=10.0) as standin:
        got = verdicts(checker_for(standin, snaps={}, timeout=0.5), ["kafkify", "requests"])
    assert got == [{PYPI: Verdict.UNKNOWN, NPM: Verdict.UNKNOWN}] * 2


def test_both_registries_are_asked_under_one_deadline():
    """A request's check waits TNAAS_AVAILABILITY_TIMEOUT at most, however many registries it asks."""
    with RegistryStandin(PYPI_NAMES, NPM_NAMES, mode="slow", delay=10.0) as standin:
        checker = checker_for(standin, snaps={}, timeout=0.5)
        start = time.monotonic()
        checker.check(["kafkify"], (PYPI, NPM))
        elapsed = time.monotonic() - start
        checker.live.close()
    assert elapsed < 0.9


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("slow", "did not answer within"),
        ("broken", "HTTP 500"),
        ("garbage", "garbage"),
        ("lost", "cannot be trusted"),
        ("reset", "could not be reached"),
    ],
)
def test_a_failing_registry_is_never_free(mode, why):
    with RegistryStandin(PYPI_NAMES, NPM_NAMES, mode=mode, delay=10.0) as standin:
        checker = checker_for(standin, timeout=0.5)
        start = time.monotonic()
        marks = checker.check(["kafkify", "requests", "left-pad"], (PYPI, NPM))
        elapsed = time.monotonic() - start
        checker.live.close()
    assert elapsed < 3.0, "the batch must keep its one deadline"
    for name_marks in marks:
        for mark in name_marks.values():
            assert mark.verdict not in (Verdict.FREE, Verdict.NOT_REGISTERED)
    kafkify = marks[0]
    assert kafkify[PYPI].verdict is Verdict.UNKNOWN and why in kafkify[PYPI].reason
    assert kafkify[NPM].verdict is Verdict.UNKNOWN and why in kafkify[NPM].reason
    # what the snapshot lists stays taken when the registry cannot say
    assert marks[1][PYPI].verdict is Verdict.TAKEN and marks[2][NPM].verdict is Verdict.TAKEN


def test_an_unreachable_registry_is_unknown(registry):
    dead = f"http://127.0.0.1:{free_port()}/npm/"
    checker = checker_for(registry, npm_url=dead)
    marks = checker.check(["kafkify"], (NPM,))
    checker.live.close()
    assert marks[0][NPM].verdict is Verdict.UNKNOWN and "could not be reached" in marks[0][NPM].reason


def test_answers_are_cached_in_redis_with_a_ttl(registry, redis_connection):
    cache = AvailabilityCache(redis_connection, ttl=120)
    first = verdicts(checker_for(registry, cache=cache), ["kafkify", "requests"])
    asked = len(registry.requests)
    assert asked == 6  # 2 names + 1 canary, on each registry
    second = verdicts(checker_for(registry, cache=cache), ["kafkify", "requests"])
    assert second == first and len(registry.requests) == asked  # nothing asked again
    keys = sorted(k.decode() for k in redis_connection.keys("*"))
    assert keys == sorted(
        f"{cache.prefix}{k}" for k in ["pypi:kafkify", "pypi:requests", "npm:kafkify", "npm:requests"]
    )
    assert all(0 < redis_connection.ttl(k) <= 120 for k in keys)
    checker = checker_for(registry, cache=cache)
    marks = checker.check(["kafkify"], (PYPI,))
    checker.live.close()
    assert marks[0][PYPI].source == "cache"


def test_a_registry_that_broke_since_it_was_cached_is_not_trusted(registry, redis_connection):
    """The canary is asked with every live batch, never from the cache: a 404 from a registry that now
    404s everything (its canary too) is not "free", even with the canary cached as taken earlier."""
    cache = AvailabilityCache(redis_connection, ttl=120)
    assert verdicts(checker_for(registry, cache=cache), ["pip", "npm"]) == [
        {PYPI: Verdict.TAKEN, NPM: Verdict.FREE},
        {PYPI: Verdict.FREE, NPM: Verdict.TAKEN},
    ]
    with RegistryStandin(PYPI_NAMES, NPM_NAMES, mode="lost") as lost:
        got = verdicts(checker_for(lost, cache=cache), ["kafkify", "pip"])
    assert got == [{PYPI: Verdict.UNKNOWN, NPM: Verdict.UNKNOWN}, {PYPI: Verdict.TAKEN, NPM: Verdict.UNKNOWN}]


def test_unknown_is_never_cached(redis_connection):
    cache = AvailabilityCache(redis_connection, ttl=120)
    with RegistryStandin(PYPI_NAMES, NPM_NAMES, mode="broken") as standin:
        verdicts(checker_for(standin, cache=cache), ["kafkify", "requests"])
    assert redis_connection.keys("*") == []


def test_a_cache_that_is_down_only_costs_a_registry_call(registry, tmp_path):
    dead = AvailabilityCache(Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2), ttl=60)
    got = verdicts(checker_for(registry, cache=dead), ["kafkify", "requests"], (PYPI,))
    assert [g[PYPI] for g in got] == [Verdict.FREE, Verdict.TAKEN]


def test_redirects_to_the_normalised_project_page_are_followed(registry):
    """PyPI answers a non-normalised project URL with 301; the checker asks the normalised one anyway,
    and a registry that redirects still works."""
    import httpx

    with httpx.Client(follow_redirects=True) as client:
        page = client.get(
            f"{registry.pypi_url}Zope.Interface/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
    assert page.status_code == 200 and page.json()["name"] == "zope-interface"
    assert any(p.startswith("/simple/Zope.Interface") for p in registry.requests)


def test_a_registry_that_refused_a_connection_is_not_asked_again_for_a_moment():
    """While a registry is down, each request's names would each try to connect again: after a
    refusal it is answered "unknown" without asking for UNREACHABLE_FOR seconds, then asked again."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from availability.live import UNREACHABLE_FOR

    port = free_port()
    live = LiveChecker({PYPI: RegistryEndpoint(PYPI, f"http://127.0.0.1:{port}/simple/", "test")}, TIMEOUT)
    asked: list[str] = []

    class Counting(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

    try:
        first = live.check([(PYPI, "kafkify")])[PYPI, "kafkify"]
        assert first.verdict is Verdict.UNKNOWN and "could not be reached" in first.reason
        server = ThreadingHTTPServer(("127.0.0.1", port), Counting)  # the registry comes back
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            again = live.check([(PYPI, "kafkify"), (PYPI, "other")])
            assert all(a.verdict is Verdict.UNKNOWN for a in again.values()) and asked == []
            time.sleep(UNREACHABLE_FOR + 0.1)
            live.check([(PYPI, "kafkify")])
            assert len(asked) == 1  # asked again once the moment has passed
        finally:
            server.shutdown()
            server.server_close()
    finally:
        live.close()
