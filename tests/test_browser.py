"""The playground in headless Chromium (Debian's package, driven by Playwright) against the real stack."""

import os
import re
import shutil
from pathlib import Path

import pytest
from redis import Redis

from store.votes import VoteStore
from testkit.processes import start_web, start_worker, stop_process, tnaas_env
from tnaas.redis_server import EmbeddedRedis

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(os.environ.get("TNAAS_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))

if CHROMIUM is None:
    if os.environ.get("TNAAS_REQUIRE_BROWSER"):
        raise RuntimeError("TNAAS_REQUIRE_BROWSER is set but chromium is not installed (make test installs it)")
    pytest.skip("chromium is not installed (make test installs Debian's chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(trained_artifacts, tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    env = tnaas_env(trained_artifacts, REDIS_URL=url, TNAAS_QUEUE="browser", TNAAS_DEFAULT_MODEL="kn3")
    connection = Redis.from_url(url)
    worker = start_worker(env, connection)
    try:
        web, base = start_web(env)
    except BaseException:
        stop_process(worker)
        raise
    try:
        yield {"base": base, "redis": connection}
    finally:
        stop_process(web)
        stop_process(worker)
        server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    page = context.new_page()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(site["base"] + "/")
    sync_api.expect(page.locator("#corpus option")).not_to_have_count(0)
    yield page
    assert not failed, f"requests that failed: {failed}"  # nothing from a CDN, nothing broken
    assert not dialogs, f"a script ran from user text: {dialogs}"
    context.close()


def test_pick_a_corpus_press_go_see_n_names_and_vote(page, site):
    page.select_option("#corpus", "cats")
    assert page.locator("#model option").all_inner_texts() == ["best by votes", "kn3", "markov2"]
    page.fill("#n", "4")
    page.click("#go")
    names = page.locator("#names li .name")
    sync_api.expect(names).to_have_count(4)
    sync_api.expect(page.locator("#names-status")).to_contain_text("4 cats names")
    second = names.nth(1).inner_text()
    up = page.get_by_role("button", name=f"Like {second}", exact=True)
    up.click()
    sync_api.expect(up).to_have_attribute("aria-pressed", "true")
    sync_api.expect(up).to_have_text("1")
    rows = [r for r in VoteStore(site["redis"]).export() if r["name"] == second and r["surface"] == "web"]
    assert rows and rows[-1]["up"] == 1 and rows[-1]["corpus"] == "cats"
    up.click()  # clicking again takes the vote back
    sync_api.expect(up).to_have_attribute("aria-pressed", "false")
    assert [r for r in VoteStore(site["redis"]).export() if r["name"] == second][-1]["up"] == 0


def test_complete_a_pattern_with_the_keyboard(page):
    page.select_option("#corpus", "pokemon")
    page.focus("#pattern")
    page.keyboard.type("*u*a")
    page.keyboard.press("Enter")
    names = page.locator("#names li .name")
    sync_api.expect(page.locator("#names-status")).to_contain_text("completions of *u*a")
    assert names.count() >= 1 and all(re.fullmatch(".u.a", n) for n in names.all_inner_texts())


def test_what_it_sounds_like_and_user_text_stays_text(page):
    page.fill("#text", "snorlax")
    page.click("#detect")
    sync_api.expect(page.locator("#sounds")).to_contain_text("snorlax is a real name in: debian, pokemon")
    sync_api.expect(page.locator("#sounds")).to_contain_text("Pokemon or tech? Pokemon")
    page.fill("#text", "<img src=x onerror=alert(1)>")
    page.click("#detect")
    sync_api.expect(page.locator("#sounds")).to_contain_text("<img")  # shown as text, never run
    assert page.locator("#sounds img").count() == 0


def test_bad_input_shows_a_friendly_error(page):
    page.select_option("#corpus", "pokemon")
    page.fill("#pattern", "ж**")
    page.click("#complete")
    alert = page.get_by_role("alert")
    sync_api.expect(alert).to_be_visible()
    sync_api.expect(alert).to_contain_text("ж")


def test_screenshot_of_a_session(page):
    page.select_option("#corpus", "pokemon")
    page.click("#go")
    sync_api.expect(page.locator("#names li")).to_have_count(5)
    page.get_by_role("button", name=re.compile("^Like ")).first.click()
    page.fill("#text", "Det här är svenska")
    page.click("#detect")
    sync_api.expect(page.locator("#sounds .bar").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "playground.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
