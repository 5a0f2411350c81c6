"""Registry calls bounded: per caller and per stack (token buckets in a real redis-server, shared by
every worker), and a circuit breaker per registry that answers "unknown" at once while a registry is
down or slow, probing it again in the background after a cool-down. Against the registry stand-in."""

import time

import pytest
from redis import Redis

from availability.checker import AvailabilityChecker
from availability.config import RegistryEndpoint
from availability.live import LiveChecker
from availability.marks import Verdict
from availability.rules import NPM, PYPI
from core.settings import Settings
from store.availability import AvailabilityCache, RegistryGate
from testkit.processes import wait_until
from testkit.registry_standin import RegistryStandin

CANARIES = {PYPI: "pip", NPM: "npm"}
NAMES = [f"kafkify{i}" for i in range(20)]


@pytest.fixture
def connection(redis_server):
    return Redis.from_url(redis_server.url)


def checker_for(standin, connection, timeout=3.0, cache=False, **settings) -> AvailabilityChecker:
    """A worker's checker: no snapshot, the Redis gate (and cache) with ``settings`` over the defaults."""
    limits = Settings(availability_timeout=timeout, **settings)
    ends = {PYPI: RegistryEndpoint(PYPI, standin.pypi_url, "test"), NPM: RegistryEndpoint(NPM, standin.npm_url, "test")}
    return AvailabilityChecker(
        {},
        LiveChecker(ends, timeout),
        AvailabilityCache(connection, 600) if cache else None,
        CANARIES,
        gate=RegistryGate.from_settings(connection, limits),
        request_calls=limits.availability_request_calls,
    )


def checked(checker, names, caller="web:10.0.0.1", registries=(PYPI, NPM)):
    return checker.check(names, registries, checker.allowance(caller))


def test_one_caller_spends_its_own_budget_and_no_more(connection):
    """20 checks of 20 names from one address asked 840 registry URLs; now the caller's bucket caps them,
    the rest read "unknown" and say why, and another caller is not affected."""
    with RegistryStandin(["pip"], ["npm"]) as standin:
        checker = checker_for(standin, connection, availability_caller_burst=100, availability_caller_rate=0.01)
        results = [checked(checker, [f"{n}x{i}" for n in NAMES]) for i in range(20)]
        asked = len(standin.requests)
        other = checked(checker, ["kafkify"], caller="web:10.0.0.2")
        checker.live.close()
    assert asked <= 100
    last = results[-1][0][PYPI]
    assert last.verdict is Verdict.UNKNOWN and "look-ups" in last.reason and "try again in" in last.reason
    assert other[0][PYPI].verdict is Verdict.NOT_REGISTERED


def test_the_stack_budget_is_shared_by_every_worker(connection):
    """Two workers (two checkers on one Redis), many callers: the stack's bucket per registry holds."""
    with RegistryStandin(["pip"], ["npm"]) as standin:
        workers = [
            checker_for(standin, connection, availability_stack_burst=30, availability_stack_rate=0.01)
            for _ in range(2)
        ]
        for i in range(10):
            checked(workers[i % 2], [f"{n}y{i}" for n in NAMES[:5]], caller=f"web:10.0.1.{i}", registries=(PYPI,))
        asked = len(standin.requests)
        for w in workers:
            w.live.close()
    assert asked <= 30


def test_one_request_asks_at_most_its_share(connection):
    with RegistryStandin(["pip"], ["npm"]) as standin:
        checker = checker_for(standin, connection, availability_request_calls=10)
        marks = checked(checker, NAMES)
        asked = len(standin.requests)
        checker.live.close()
    assert asked <= 10
    assert marks[-1][NPM].verdict is Verdict.UNKNOWN and "per request" in marks[-1][NPM].reason


def test_a_slow_registry_opens_the_breaker_for_every_worker_and_a_probe_closes_it(connection):
    with RegistryStandin(["pip"], ["npm"], mode="slow", delay=5.0) as standin:
        one, two = (checker_for(standin, connection, timeout=0.5, availability_breaker_cooldown=1.0) for _ in range(2))
        start = time.monotonic()
        first = checked(one, NAMES[:5], registries=(PYPI,))  # 6 calls time out: open
        assert 0.4 < time.monotonic() - start < 0.9  # the first request finds out, within its deadline
        assert first[0][PYPI].verdict is Verdict.UNKNOWN and "within" in first[0][PYPI].reason
        asked = len(standin.requests)
        start = time.monotonic()
        second = checked(two, ["snorlaxy"], registries=(PYPI,))  # another worker: open at once
        assert time.monotonic() - start < 0.2 and len(standin.requests) == asked
        assert second[0][PYPI].verdict is Verdict.UNKNOWN and "not answering" in second[0][PYPI].reason
        standin.mode = "ok"  # the registry recovers
        time.sleep(1.1)  # the cool-down
        start = time.monotonic()
        probing = checked(two, ["snorlaxy"], registries=(PYPI,))  # half-open: a probe in the background
        assert time.monotonic() - start < 0.2 and probing[0][PYPI].verdict is Verdict.UNKNOWN

        def answered():
            marks = checked(one, ["snorlaxy"], registries=(PYPI,))
            return marks[0][PYPI].verdict is Verdict.NOT_REGISTERED

        wait_until(answered, timeout=5, interval=0.1, what="the breaker to close after its probe")
        one.live.close()
        two.live.close()


def test_a_registry_that_fails_fast_opens_the_breaker_too(connection):
    with RegistryStandin(["pip"], ["npm"], mode="broken") as standin:
        checker = checker_for(standin, connection, availability_breaker_failures=5)
        checked(checker, NAMES[:5], registries=(NPM,))  # 6 failed calls
        asked = len(standin.requests)
        marks = checked(checker, NAMES[5:10], registries=(NPM,))
        checker.live.close()
    assert len(standin.requests) == asked
    assert marks[0][NPM].verdict is Verdict.UNKNOWN and "not answering" in marks[0][NPM].reason


def test_cached_names_are_answered_while_the_registry_is_slow(connection):
    with RegistryStandin(["pip", "requests"], ["npm"]) as standin:
        checker = checker_for(standin, connection, timeout=1.0, cache=True)
        checked(checker, ["requests", "kafkify"])
        standin.mode, standin.delay = "slow", 5.0
        start = time.monotonic()
        marks = checked(checker, ["requests", "kafkify"])
        elapsed = time.monotonic() - start
        checker.live.close()
    assert elapsed < 0.2
    assert marks[0][PYPI].verdict is Verdict.TAKEN and marks[1][NPM].verdict is Verdict.NOT_REGISTERED
