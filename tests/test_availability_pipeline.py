"""Availability and `like` through the request pipeline every surface answers with: the grammar's words,
marks on every shown name, `free` that never shows a name the registry did not confirm, `check`."""

import time

import pytest

from availability.checker import AvailabilityChecker
from availability.config import RegistryEndpoint
from availability.live import LiveChecker
from availability.rules import NPM, PYPI
from availability.snapshot import Snapshot
from bot.slack.grammar import parse_command
from core.errors import TNaaSError
from core.settings import Settings
from jobs.contracts import (
    CheckReply,
    CheckRequest,
    CompleteRequest,
    GenerateRequest,
    LikeRequest,
    NamesReply,
    UserError,
)
from jobs.pipeline import answer, impressions, registries_for
from models.registry import ModelRegistry
from testkit.registry_standin import RegistryStandin

CANARIES = {PYPI: "pip", NPM: "npm"}


@pytest.fixture(scope="module")
def models(trained_artifacts) -> ModelRegistry:
    return ModelRegistry(trained_artifacts)


@pytest.fixture
def settings(trained_artifacts) -> Settings:
    return Settings(artifacts_dir=trained_artifacts, default_model="kn3", rerank_pool=60, explore=0.0)


def checker(
    standin: RegistryStandin, pypi: list[str] | None, npm: list[str] | None, timeout: float = 2.0, **limits
) -> AvailabilityChecker:
    """Snapshots of ``pypi`` / ``npm`` (None: no snapshot, as on a fresh install)."""
    ends = {PYPI: RegistryEndpoint(PYPI, standin.pypi_url, "test"), NPM: RegistryEndpoint(NPM, standin.npm_url, "test")}
    snaps = {r: Snapshot.build(r, names) for r, names in ((PYPI, pypi), (NPM, npm)) if names is not None}
    return AvailabilityChecker(snaps, LiveChecker(ends, timeout), None, CANARIES, **limits)


# -- the grammar --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pypi 5 free", GenerateRequest(corpus="pypi", n=5, free=True)),
        ("free npm", GenerateRequest(corpus="npm", free=True)),
        ("pokemon 3", GenerateRequest(corpus="pokemon", n=3)),
        ("like kafka", LikeRequest(name="kafka", corpus="pypi")),
        (
            "like Kafka pokemon 8 free model=kn3",
            LikeRequest(name="kafka", corpus="pokemon", n=8, free=True, model="kn3"),
        ),
        ("check kafkify", CheckRequest(names=["kafkify"])),
        ("*u*a pokemon free", CompleteRequest(pattern="*u*a", corpus="pokemon", free=True)),
        ("check kafkify left-pad Requests", CheckRequest(names=["kafkify", "left-pad", "Requests"])),
    ],
)
def test_the_grammar_takes_free_like_and_check(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("like", "needs a name"),
        ("like k*fka", "not a pattern"),
        ("like " + "x" * 40, "at most 32"),
        ("like kafka pypi npm", "didn't understand"),
        ("like kafka cobol", "don't know a corpus"),
        ("check", "needs a name"),
        ("check " + " ".join(f"n{i}" for i in range(21)), "at most 20"),
    ],
)
def test_bad_like_check_and_free_get_a_clear_message(text, message):
    with pytest.raises(TNaaSError, match=message):
        parse_command(text)


def test_free_means_the_corpus_registry_or_both():
    assert registries_for("pypi") == (PYPI,) and registries_for("npm") == (NPM,)
    assert registries_for("pokemon") == (PYPI, NPM)


# -- the pipeline -------------------------------------------------------------------------------------
def test_every_shown_name_carries_its_marks(models, settings):
    with RegistryStandin(["pip"], ["npm"]) as standin:
        reply = answer(
            GenerateRequest(corpus="pokemon", n=5, seed=3), models, None, settings, checker(standin, ["pip"], ["npm"])
        )
    assert isinstance(reply, NamesReply) and len(reply.candidates) == 5
    for c in reply.candidates:
        assert set(c.availability) == {PYPI, NPM}
        assert all(m.verdict in ("free", "not allowed") for m in c.availability.values())


def test_free_never_shows_a_name_the_registry_has(models, settings):
    """Whatever generation would have shown is registered on both registries; `free` must show others,
    each confirmed free by a live answer."""
    request = GenerateRequest(corpus="pokemon", n=5, seed=11)
    with RegistryStandin(["pip"], ["npm"]) as standin:
        plain = answer(request, models, None, settings, checker(standin, ["pip"], ["npm"]))
    taken = [c.name for c in plain.candidates]
    with RegistryStandin(["pip", *taken], ["npm", *taken]) as standin:
        reply = answer(
            request.model_copy(update={"free": True}), models, None, settings, checker(standin, ["pip"], ["npm"])
        )
    assert reply.free and len(reply.candidates) == 5 and reply.note is None
    for c in reply.candidates:
        assert c.name not in taken
        assert {r: m.verdict for r, m in c.availability.items()} == {PYPI: "free", NPM: "free"}
        assert {m.source for m in c.availability.values()} == {"live"}


def test_free_with_a_pattern_shows_the_likeliest_completions_the_registry_does_not_have(models, settings):
    request = CompleteRequest(pattern="p*k**", corpus="pokemon", n=4, seed=5)
    with RegistryStandin(["pip"], ["npm"]) as standin:
        plain = answer(request, models, None, settings, checker(standin, ["pip"], ["npm"]))
    taken = [c.name for c in plain.candidates[:2]]
    assert isinstance(plain, NamesReply) and len(plain.candidates) == 4 and not plain.free
    with RegistryStandin(["pip", *taken], ["npm", *taken]) as standin:
        reply = answer(
            request.model_copy(update={"free": True}), models, None, settings, checker(standin, ["pip"], ["npm"])
        )
    assert isinstance(reply, NamesReply) and reply.free and reply.pattern == "p*k**"
    names = [c.name for c in reply.candidates]
    assert len(names) == 4 and not set(names) & set(taken)
    assert all(len(n) == 5 and n[0] == "p" and n[2] == "k" for n in names)
    for c in reply.candidates:
        assert {r: m.verdict for r, m in c.availability.items()} == {PYPI: "free", NPM: "free"}


def test_free_with_a_registry_down_shows_nothing_unconfirmed_and_asks_one_round(models, settings):
    """Replacements would meet the same registry: one round of look-ups, and a note that says why."""
    with RegistryStandin(["pip"], ["npm"], mode="broken") as standin:
        reply = answer(
            GenerateRequest(corpus="cats", n=3, seed=1, free=True),
            models,
            None,
            settings,
            checker(standin, ["pip"], ["npm"]),
        )
        asked = len(standin.requests)
    assert isinstance(reply, NamesReply)
    assert reply.candidates == [] and "3 could not be checked (the registry answered HTTP 500" in reply.note
    assert asked <= 3 * 2 + 2


def test_free_without_a_snapshot_keeps_names_the_registries_do_not_have(models, settings):
    """Out of the box (no snapshot): names both registries answer 404 for are kept, in one round, and
    the answer says which rule it could not check."""
    with RegistryStandin(["pip"], ["npm"]) as standin:
        reply = answer(
            GenerateRequest(corpus="cats", n=5, seed=4, free=True), models, None, settings, checker(standin, None, None)
        )
        asked = len(standin.requests)
    assert isinstance(reply, NamesReply) and len(reply.candidates) == 5
    for c in reply.candidates:
        assert {r: m.verdict for r, m in c.availability.items()} == {PYPI: "not registered", NPM: "not registered"}
    assert "too similar" in reply.note and "availability refresh" in reply.note
    assert asked == 5 * 2 + 2  # the shown names and one canary per registry: one round


def test_a_free_request_is_bounded_in_registry_calls(models, settings):
    """Every name taken: the replacement rounds stop at the request's budget of registry calls."""
    with RegistryStandin(["pip"], ["npm"], mode="taken") as standin:
        reply = answer(
            GenerateRequest(corpus="pokemon", n=20, seed=5, free=True),
            models,
            None,
            settings,
            checker(standin, None, None, timeout=10.0, request_calls=48),  # time is not what bounds it here
        )
        asked = len(standin.requests)
    assert isinstance(reply, NamesReply) and reply.candidates == []
    assert asked == 48 and "taken" in reply.note


def test_a_free_request_waits_for_a_slow_registry_once(models, settings):
    """Three rounds, two registries: still one TNAAS_AVAILABILITY_TIMEOUT in all."""
    with RegistryStandin(["pip"], ["npm"], mode="slow", delay=5.0) as standin:
        start = time.monotonic()
        reply = answer(
            GenerateRequest(corpus="pokemon", n=5, seed=6, free=True),
            models,
            None,
            settings,
            checker(standin, None, None, timeout=0.5),
        )
        elapsed = time.monotonic() - start
    assert isinstance(reply, NamesReply) and reply.candidates == []
    assert elapsed < 0.5 + 0.6


def test_free_without_availability_is_a_user_error(models, settings):
    reply = answer(GenerateRequest(corpus="cats", n=3, free=True), models, None, settings, None)
    assert isinstance(reply, UserError) and "not set up" in reply.error


def test_like_through_the_pipeline(models, settings):
    with RegistryStandin(["pip"], ["npm"]) as standin:
        reply = answer(
            LikeRequest(name="pikachu", corpus="pokemon", n=6, seed=2),
            models,
            None,
            settings,
            checker(standin, ["pip"], ["npm"]),
        )
    assert isinstance(reply, NamesReply) and reply.like == "pikachu" and len(reply.candidates) == 6
    known = models.model("pokemon", "kn3").known_
    for c in reply.candidates:
        assert c.name != "pikachu" and c.name not in known and 1 <= c.edits <= 3
        assert c.score is not None and set(c.availability) == {PYPI, NPM}
    rows = impressions(reply, "C1", "1.2", 6, "U1", "slack")
    assert {r.like for r in rows} == {"pikachu"} and {r.pattern for r in rows} == {None}


def test_like_a_seed_no_model_can_start_from_is_a_user_error(models, settings):
    reply = answer(LikeRequest(name="kafka!", corpus="pokemon", n=3), models, None, settings, None)
    assert isinstance(reply, UserError) and "'!'" in reply.error


def test_check_through_the_pipeline(models, settings):
    with RegistryStandin(["pip", "requests"], ["npm", "left-pad"]) as standin:
        reply = answer(
            CheckRequest(names=["requests", "leftpad", "kafkify", "os"]),
            models,
            None,
            settings,
            checker(standin, ["pip", "requests"], ["npm", "left-pad"]),
        )
    assert isinstance(reply, CheckReply)
    got = {item.name: (item.availability[PYPI].verdict, item.availability[NPM].verdict) for item in reply.names}
    assert got == {
        "requests": ("taken", "free"),
        "leftpad": ("free", "not allowed"),
        "kafkify": ("free", "free"),
        "os": ("not allowed", "not allowed"),
    }


# -- every surface shows the verdict -----------------------------------------------------------------
def test_slack_shows_not_registered_and_what_was_not_checked():
    from bot.slack.messages import candidate_blocks, check_text
    from jobs.contracts import CandidateOut, MarkOut, NameMarks

    unchecked = MarkOut(verdict="not registered", reason="not registered; its 'too similar' rule was not checked")
    marks = {PYPI: unchecked, NPM: MarkOut(verdict="free", source="live")}
    text = check_text(CheckReply(names=[NameMarks(name="kafkify", availability=marks)]))
    assert "*kafkify*: not registered on PyPI · free on npm" in text and "too similar" in text
    reply = NamesReply(
        corpus="cats",
        model="kn3",
        model_version="v",
        free=True,
        note="PyPI's 'too similar' rule was not checked",
        candidates=[CandidateOut(name="mittens", log_prob=-1.0, known=False, believability=None, availability=marks)],
    )
    _, fallback = candidate_blocks(reply, seeded=False)
    assert "not registered on PyPI" in fallback and "too similar" in fallback
