"""The playground in headless Chromium (Debian's package, driven by Playwright) against the real stack."""

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis

from store.votes import VoteStore
from testkit.processes import start_web, start_worker, stop_process, tnaas_env
from tnaas.redis_server import EmbeddedRedis

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
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


@contextmanager
def visit(browser, site, path: str = "/", **options):
    """A fresh browser context (a person's visit) on ``path``, once its pickers are filled; afterwards,
    nothing failed to load and no script ran from user text."""
    context = browser.new_context(**options)
    page = context.new_page()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(site["base"] + path)
    sync_api.expect(page.locator("#corpus option")).not_to_have_count(0)
    yield page
    assert not failed, f"requests that failed: {failed}"  # nothing from a CDN, nothing broken
    assert not dialogs, f"a script ran from user text: {dialogs}"
    context.close()


@pytest.fixture
def page(browser, site):
    with visit(browser, site, viewport={"width": 900, "height": 1000}) as page:
        yield page


def test_pick_a_corpus_press_go_see_n_names_and_vote(page, site):
    page.select_option("#corpus", "cats")
    assert page.locator("#model option").all_inner_texts() == ["best for the corpus", "kn3", "markov2"]
    page.fill("#n", "4")
    page.click("#go")
    names = page.locator("#names li .name")
    sync_api.expect(names).to_have_count(4)
    sync_api.expect(page.locator("#names-status")).to_contain_text("4 cats names")
    second = names.nth(1).inner_text()
    name, copy = names.first.bounding_box(), page.locator("#names .copy").first.bounding_box()
    assert abs((name["y"] + name["height"] / 2) - (copy["y"] + copy["height"] / 2)) < 4  # wide: one row a name
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
    assert alert.evaluate("e => e.closest('form').id") == "complete-form"  # beside the form that sent it


def test_screenshot_of_a_session(page):
    page.select_option("#corpus", "pokemon")
    page.click("#go")
    sync_api.expect(page.locator("#names li")).to_have_count(5)
    up = page.locator("#names .vote.up").first  # not "Like this", the form's button
    up.click()
    sync_api.expect(up).to_have_attribute("aria-pressed", "true")
    page.fill("#text", "Det här är svenska")
    page.click("#detect")
    sync_api.expect(page.locator("#sounds .bar").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "playground.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


# -- on a phone ------------------------------------------------------------------------------------
def one_whole_line(name) -> bool:
    """The name's box is one line high, inside the screen, and shows every letter (nothing clipped)."""
    box = name.bounding_box()
    line = name.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    unclipped = name.evaluate("e => e.scrollWidth <= e.clientWidth")
    return box["height"] < 1.4 * line and box["x"] >= 0 and box["x"] + box["width"] <= 390 and unclipped


def test_on_a_phone_names_fit_answers_come_into_view_and_a_link_repeats_them(browser, site):
    with visit(browser, site, **PHONE) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        box, label = page.locator("#free").bounding_box(), page.get_by_text("only free names").bounding_box()
        assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 4  # one line
        page.select_option("#corpus", "pokemon")
        page.tap("#go")
        names = page.locator("#names li .name")
        sync_api.expect(names).to_have_count(5)
        sync_api.expect(page.locator("#names li").first).to_be_in_viewport()  # scrolled to, below the forms
        assert all(one_whole_line(name) for name in names.all()), names.all_inner_texts()
        first_row = page.locator("#names li").first
        marks, vote = first_row.locator(".mark"), first_row.locator(".vote.up").bounding_box()
        sync_api.expect(marks).to_have_text([re.compile("^PyPI "), re.compile("^npm ")])  # availability, beneath
        assert names.first.bounding_box()["y"] < marks.first.bounding_box()["y"] < vote["y"] + vote["height"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        first = names.first.inner_text()
        copy = page.get_by_role("button", name=f"Copy {first}", exact=True)
        copy.tap()
        sync_api.expect(copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == first
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "phone.png"))

        # The address repeats the request: a link to it fills the form and shows the same names.
        shown, link = names.all_inner_texts(), page.url
        assert "action=generate" in link and "corpus=pokemon" in link
        page.get_by_role("button", name="Copy link").tap()
        assert page.evaluate("navigator.clipboard.readText()") == link
        with visit(browser, site, link.removeprefix(site["base"]), **PHONE) as shared:
            sync_api.expect(shared.locator("#names li .name")).to_have_text(shown)
            assert shared.input_value("#corpus") == "pokemon" and shared.input_value("#n") == "5"

        # Too long a pattern is refused beside its form, in words that give the limit; nothing is cut.
        page.fill("#pattern", "*" * 40)
        page.tap("#complete")
        error = page.locator("#complete-error")
        sync_api.expect(error).to_contain_text("at most 32 characters")
        sync_api.expect(error).to_be_in_viewport()
        assert page.input_value("#pattern") == "*" * 40
        below = error.bounding_box()["y"] - page.locator("#pattern").bounding_box()["y"]
        assert 0 < below < 120, below  # right under the pattern, not at the top of the page
        sync_api.expect(page.locator("#names-status")).to_contain_text("from your earlier request")
        page.screenshot(path=str(SCREENSHOTS / "phone-error.png"))


def test_copy_without_the_clipboard_api_selects_the_name_and_copies_it(browser, site):
    """Served over plain http (not localhost) a page has no navigator.clipboard: the copy button still works."""
    no_clipboard = "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined })"
    with visit(browser, site, **PHONE) as page:
        page.context.add_init_script(no_clipboard)
        page.reload()
        sync_api.expect(page.locator("#corpus option")).not_to_have_count(0)
        assert page.evaluate("navigator.clipboard") is None
        page.select_option("#corpus", "cats")
        page.fill("#n", "1")
        page.tap("#go")
        sync_api.expect(page.locator("#names-status")).to_contain_text("1 cats name from")  # one name: singular
        name = page.locator("#names li .name").inner_text()
        copy = page.get_by_role("button", name=f"Copy {name}", exact=True)
        copy.tap()
        sync_api.expect(copy).to_have_text(re.compile("^(Copied|Selected)$"))
        assert page.evaluate("getSelection().toString()") == name
