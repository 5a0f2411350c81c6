"""A team's own corpus from Slack end to end: `/techname corpus add` opens the form through the
stand-in, a signed submission is checked (problems under their field), trained by the real worker for
the submitting team alone, and its report reaches the submitter by direct message."""

import json
import urllib.error
import urllib.request

import pytest

from bot.slack.corpus_file import FileRefused, download
from core.limits import TEAM_CORPUS_UPLOADS_PER_HOUR
from store.rate_limit import HOUR, RateLimited, RateLimits, corpus_upload_counters
from store.team_corpora import TeamCorpora, team_owner
from testkit.slack_standin import SCOPES, TOKEN, signed_post
from testkit.stacks import slack_stack
from tests.test_slack import FORM_VALUES, QUEUE, SECRET, Stack, settled, submit, wait_for

RIVERS = [
    "amazon", "danube", "volga", "rhine", "ganges", "mekong", "tigris", "yukon", "congo", "niger",
    "indus", "loire", "seine", "thames", "elbe", "oder", "vistula", "dnieper", "zambezi", "orinoco",
    "parana", "murray", "darling", "shannon", "tagus", "douro", "ebro", "rhone", "po", "arno",
]  # fmt: skip


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    """Redis, the Slack stand-in, `tnaas web` and one `tnaas worker` (as test_slack.py has them)."""
    env = {"TNAAS_QUEUE": QUEUE, "TNAAS_DEFAULT_MODEL": "kn3", "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    with slack_stack(trained_artifacts, tmp_path_factory.mktemp("redis"), **env) as s:
        yield Stack(f"{s.base}/slack/events", s.base, s.slack, s.redis, s.env, s.processes)


def form(name: str, names: list[str], description: str = "") -> dict:
    return {
        "name": {"type": "plain_text_input", "value": name},
        "names": {"type": "plain_text_input", "value": "\n".join(names)},
        "description": {"type": "plain_text_input", "value": description or None},
    }


def dms(stack: Stack, user: str) -> list[dict]:
    return [p for p in stack.slack.called("chat.postMessage") if p.get("channel") == user and "_ts" in p]


def open_form(stack: Stack) -> dict:
    before = len(stack.slack.modals)
    status, ack, _ = stack.slash("corpus add", channel="CCORPUS", trigger=stack.slack.trigger())
    assert status == 200 and ack == ""
    return wait_for(lambda: len(stack.slack.modals) > before and stack.slack.modals, "the corpus modal")[-1]


def test_corpus_add_opens_the_form_and_a_submission_twice_trains_once_and_reports_by_dm(stack):
    modal = open_form(stack)
    assert modal["callback_id"] == "add_corpus" and stack.slack.block_refusals == []
    blocks = {b["block_id"]: b["element"] for b in modal["blocks"]}
    assert blocks["names"]["type"] == "plain_text_input" and blocks["names"]["multiline"] is True
    before = len(dms(stack, "U1"))
    assert submit(stack, modal, form("our-rivers", RIVERS + ["Danube", "🌊wave"], "rivers we like")) == (200, "")
    assert submit(stack, modal, form("our-rivers", RIVERS)) == (200, "")  # Slack's retry: trains once
    report = wait_for(lambda: len(dms(stack, "U1")) > before and dms(stack, "U1")[-1], "the report by DM", 60)
    text = report["text"]
    assert "`our-rivers` is ready" in text and "*Names kept:* 30" in text and "1 duplicates" in text
    assert text.count("`", text.index("*Examples:*")) == 10  # five examples, each in a code span
    settled(stack)
    assert len(dms(stack, "U1")) == before + 1
    owners = {k.decode() for k in stack.redis.scan_iter("tnaas:corpora:*")}
    assert len(owners) == 1  # the one team's, none under the user or the channel
    (state,) = TeamCorpora(stack.redis).states(owners.pop().split(":")[-1]).values()
    assert state["status"] == "ready" and state["description"] == "rivers we like"


def test_bad_submissions_are_answered_under_their_field_and_keep_nothing(stack):
    modal = open_form(stack)
    keys = set(stack.redis.scan_iter("tnaas:corpus*"))
    status, said = submit(stack, modal | {"id": "VC1"}, form("Not A Slug!", RIVERS))
    assert status == 200 and "cannot name a corpus" in json.loads(said)["errors"]["name"]
    status, said = submit(stack, modal | {"id": "VC2"}, form("pokemon", RIVERS))
    assert "built-in corpus" in json.loads(said)["errors"]["name"]
    status, said = submit(stack, modal | {"id": "VC3"}, form("few", RIVERS[:5]))
    assert "at least 20" in json.loads(said)["errors"]["names"]
    status, said = submit(stack, modal | {"id": "VC4"}, form("dupes", ["odin"] * 40))
    assert "1 distinct usable name" in json.loads(said)["errors"]["names"]
    assert submit(stack, modal | {"id": "VC5"}, form("forged", RIVERS), callback_id="forged")[0] == 404
    assert submit(stack, modal | {"id": "VC6"}, form("other-team", RIVERS), team="TNOTINSTALLED")[0] in (200, 401)
    settled(stack)
    assert set(stack.redis.scan_iter("tnaas:corpus*")) == keys
    # the same view, fixed after an error, is taken: a problem does not spend the submission
    assert submit(stack, modal | {"id": "VC3"}, form("few", RIVERS)) == (200, "")
    wait_for(lambda: any("`few` is ready" in p["text"] for p in dms(stack, "U1")), "the fixed form's report", 60)


def add_corpus(stack: Stack, name: str, view_id: str) -> None:
    """The form opened and submitted for ``name``, until its report arrives by DM."""
    modal = open_form(stack)
    assert submit(stack, modal | {"id": view_id}, form(name, RIVERS)) == (200, "")
    wait_for(lambda: any(f"`{name}` is ready" in p["text"] for p in dms(stack, "U1")), f"{name} trained", 60)


def test_a_teams_corpus_answers_its_requests_is_listed_and_removed_and_is_unknown_to_another_team(stack):
    add_corpus(stack, "big-rivers", "VLIST")
    status, ack, _ = stack.slash("corpus list", channel="CLIST")
    assert status == 200 and "`big-rivers`: 30 names" in ack
    status, ack, _ = stack.slash("big-rivers 3", channel="CRIVERS")
    assert status == 200 and ack == ""
    parent = wait_for(lambda: stack.posts("CRIVERS"), "the names from the team's corpus")[0]
    assert "big-rivers" in parent["text"]
    status, ack, _ = stack.slash("like danube big-rivers 2", channel="CRIVERS2")
    assert status == 200 and ack == ""
    wait_for(lambda: stack.posts("CRIVERS2"), "names like one from the team's corpus")

    status, ack, _ = stack.slash("big-rivers 3", channel="COTHER", team="TOTHER")  # another team: unknown
    assert status == 200 and "don't know a corpus called 'big-rivers'" in ack
    status, ack, _ = stack.slash("corpus list", channel="COTHER", team="TOTHER")
    assert "no corpora of its own" in ack
    status, ack, _ = stack.slash("corpus rm big-rivers", channel="COTHER", team="TOTHER")
    assert "no corpus called `big-rivers`" in ack

    settled(stack)
    status, ack, _ = stack.slash("corpus rm big-rivers", channel="CLIST")
    assert status == 200 and ack.startswith("Removed `big-rivers`") and "names shown from it" in ack
    assert not [k for k in stack.redis.scan_iter("tnaas:corpus*") if b"big-rivers" in k]
    status, ack, _ = stack.slash("big-rivers 3", channel="CLIST")
    assert "don't know a corpus called 'big-rivers'" in ack


def test_the_name_modal_and_the_workflow_step_offer_and_answer_from_the_teams_own_corpora(stack):
    add_corpus(stack, "modal-rivers", "VMODALRIVERS")
    theirs = team_owner("TOTHER")
    assert TeamCorpora(stack.redis).begin(theirs, "their-rivers", RIVERS, "job-theirs", 60)  # another team's
    try:
        before = len(stack.slack.modals)
        status, ack, _ = stack.slash("", channel="CMODALR", trigger=stack.slack.trigger())
        assert status == 200 and ack == ""
        modal = wait_for(lambda: len(stack.slack.modals) > before and stack.slack.modals, "the name modal")[-1]
        corpus = next(b for b in modal["blocks"] if b["block_id"] == "corpus")["element"]
        groups = {g["label"]["text"]: [o["value"] for o in g["options"]] for g in corpus["option_groups"]}
        assert "modal-rivers" in groups["Your team's"] and "their-rivers" not in groups["Your team's"]
        assert "cats" in groups["Built in"]
        assert corpus["initial_option"]["value"] == groups["Built in"][0] and stack.slack.block_refusals == []

        chosen = FORM_VALUES | {"corpus": {"type": "static_select", "selected_option": {"value": "modal-rivers"}}}
        chosen |= {"where": {"type": "conversations_select", "selected_conversation": "CPOSTEDRIVERS"}}
        assert submit(stack, modal | {"id": "VMR1"}, chosen) == (200, "")
        parent = wait_for(lambda: stack.posts("CPOSTEDRIVERS"), "names from the team's corpus")[0]
        assert parent["text"] == "<@U1> asked for 2 modal-rivers names"

        forged = chosen | {"corpus": {"type": "static_select", "selected_option": {"value": "their-rivers"}}}
        forged |= {"where": {"type": "conversations_select", "selected_conversation": "CPOSTEDTHEIRS"}}
        status, said = submit(stack, modal | {"id": "VMR2"}, forged)
        assert status == 200 and "don't know a corpus called 'their-rivers'" in json.loads(said)["errors"]["corpus"]

        ours = stack.slack.function_executed({"corpus": "modal-rivers", "n": 3})
        other = stack.slack.function_executed({"corpus": "their-rivers", "n": 3})
        for body in (ours, other):
            assert signed_post(stack.url, json.dumps(body).encode(), "application/json", SECRET)[0] == 200
        done = wait_for(lambda: stack.slack.executions[ours["event"]["function_execution_id"]]["completion"], "ours")
        assert len(done["outputs"]["names"]) == 3
        failed = wait_for(
            lambda: stack.slack.executions[other["event"]["function_execution_id"]]["completion"], "theirs"
        )
        assert "don't know a corpus called 'their-rivers'" in failed["error"]
        settled(stack)
        assert stack.posts("CPOSTEDTHEIRS") == [] and len(stack.posts("CPOSTEDRIVERS")) == 2
    finally:
        TeamCorpora(stack.redis).delete(theirs, "their-rivers")


def file_form(name: str, file: dict | None, names: list[str] | None = None) -> dict:
    """The form with a file in its file input (Slack's file object, as the submission carries it)."""
    values = form(name, names or [])
    values["names"]["value"] = "\n".join(names) if names else None
    values["file"] = {"type": "file_input", "files": [file] if file else []}
    return values


def told(stack: Stack, slug: str, text: str, timeout: float = 60) -> dict:
    """The direct message to U1 about ``slug`` that says ``text``."""
    return wait_for(
        lambda: next((p for p in dms(stack, "U1") if f"`{slug}`" in p["text"] and text in p["text"]), None),
        f"a DM about {slug} saying {text!r}",
        timeout,
    )


def test_a_file_in_the_form_is_fetched_with_the_bot_token_trained_and_a_retry_trains_once(stack):
    modal = open_form(stack)
    blocks = {b["block_id"]: b["element"] for b in modal["blocks"]}
    assert blocks["file"] == {"type": "file_input", "action_id": "file", "filetypes": ["txt", "csv"], "max_files": 1}
    assert blocks["names"]["type"] == "plain_text_input" and stack.slack.block_refusals == []
    csv = "name,length\r\n" + "\r\n".join(f"{r},{len(r)}" for r in RIVERS) + "\r\n"
    file = stack.slack.add_file(("\ufeff" + csv).encode(), name="rivers.csv")
    before = len(dms(stack, "U1"))
    view = modal | {"id": "VFILE"}
    assert submit(stack, view, file_form("file-rivers", file)) == (200, "")
    assert submit(stack, view, file_form("file-rivers", file)) == (200, "")  # Slack's retry
    report = told(stack, "file-rivers", "is ready")["text"]
    assert "*Names kept:* 30" in report and "read as a table" in report and "is a header" in report
    settled(stack)
    assert len(dms(stack, "U1")) == before + 1 and stack.slack.downloads.count((file["id"], 200)) == 1
    (info,) = [p for p in stack.slack.called("files.info") if p["file"] == file["id"]]
    assert info["_token"] == TOKEN
    assert TeamCorpora(stack.redis).names(team_owner("T1"), "file-rivers") == RIVERS
    status, ack, _ = stack.slash("file-rivers 3", channel="CFILE")
    assert status == 200 and ack == ""
    assert "file-rivers" in wait_for(lambda: stack.posts("CFILE"), "names from the file's corpus")[0]["text"]


def test_both_or_neither_or_a_large_file_is_answered_under_its_field(stack):
    modal = open_form(stack)
    file = stack.slack.add_file("\n".join(RIVERS).encode())
    status, said = submit(stack, modal | {"id": "VBOTH"}, file_form("both", file, RIVERS))
    assert status == 200 and "not both" in json.loads(said)["errors"]["file"]
    status, said = submit(stack, modal | {"id": "VNONE"}, file_form("none", None))
    assert "upload a file" in json.loads(said)["errors"]["names"]
    big = stack.slack.add_file(b"river\n" * 400_000)
    status, said = submit(stack, modal | {"id": "VBIG"}, file_form("big", big))
    assert "at most 2 MB" in json.loads(said)["errors"]["file"]
    settled(stack)
    assert not TeamCorpora(stack.redis).states(team_owner("T1")).keys() & {"both", "none", "big"}


@pytest.mark.parametrize(
    ("slug", "make", "said"),
    [
        ("gone-file", lambda s: {"id": "F99999999", "name": "x.txt"}, "no longer has that file"),
        ("deleted-file", "deleted", "no longer has that file"),
        ("denied-file", lambda s: s.add_file(b"a\n" * 30, readable=False), "would not let me read that file"),
        (
            "their-file",
            lambda s: s.add_file("\n".join(RIVERS).encode(), team="TOTHER", shared_with={"T1"}),
            "another workspace",
        ),
        ("huge-file", lambda s: s.add_file(b"river\n" * 400_000) | {"size": 100}, "at most 2 MB"),
        ("binary-file", lambda s: s.add_file(bytes(range(256)) * 40, name="names.txt"), "binary file"),
        ("latin-file", lambda s: s.add_file("\n".join(RIVERS + ["café"]).encode("latin-1")), "not UTF-8"),
        ("few-file", lambda s: s.add_file(b"odin\nthor\n"), "at least 20"),
    ],
)
def test_a_file_slack_will_not_give_or_that_is_no_name_list_is_told_by_dm_and_keeps_nothing(stack, slug, make, said):
    if make == "deleted":
        file = stack.slack.add_file("\n".join(RIVERS).encode())
        stack.slack.delete_file(file["id"])
    else:
        file = make(stack.slack)
    modal = open_form(stack)
    assert submit(stack, modal | {"id": f"V-{slug}"}, file_form(slug, file)) == (200, "")
    text = told(stack, slug, "was not added from your file")["text"]
    assert said in text and "nothing changed" in text
    settled(stack)
    assert slug not in TeamCorpora(stack.redis).states(team_owner("T1"))
    assert not [k for k in stack.redis.scan_iter("tnaas:corpus*") if slug.encode() in k]


def test_a_download_without_the_right_token_is_sent_to_the_sign_in_page(stack):
    """What the worker relies on: Slack hands a file's bytes only to a token of a workspace that reads it."""
    file = stack.slack.add_file(b"odin\n" * 30)
    stack.slack.token("xoxb-other", "TOTHER")
    for headers in ({}, {"Authorization": "Bearer xoxb-wrong"}, {"Authorization": "Bearer xoxb-other"}):
        request = urllib.request.Request(file["url_private_download"], headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.build_opener(NoRedirect).open(request, timeout=5)
        assert refused.value.code == 302 and "/signin" in refused.value.headers["Location"]
    request = urllib.request.Request(file["url_private"], headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.read() == b"odin\n" * 30


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def test_an_install_without_files_read_is_asked_to_reinstall_and_keeps_nothing(stack):
    stack.slack.token(TOKEN, "T1", scopes=SCOPES.replace(",files:read", ""))
    try:
        file = stack.slack.add_file("\n".join(RIVERS).encode())
        modal = open_form(stack)
        assert submit(stack, modal | {"id": "V-noscope"}, file_form("no-scope", file)) == (200, "")
        assert "reinstall the app" in told(stack, "no-scope", "was not added from your file")["text"]
        settled(stack)
    finally:
        stack.slack.token(TOKEN, "T1")
    assert "no-scope" not in TeamCorpora(stack.redis).states(team_owner("T1"))
    assert stack.slack.downloads.count((file["id"], 200)) == 0


def home_of(stack: Stack, user: str, event_id: str) -> dict:
    stack.slack.views.pop(("T1", user), None)
    assert stack.event({"type": "app_home_opened", "user": user, "tab": "home"}, event_id) == 200
    return wait_for(lambda: stack.slack.views.get(("T1", user)), "the Home tab")


def test_home_lists_the_teams_corpora_adds_one_with_the_form_and_removes_one(stack):
    add_corpus(stack, "home-rivers", "VHOME")
    home = home_of(stack, "U9", "EvHomeCorpora")
    assert stack.slack.block_refusals == []
    sections = [b for b in home["blocks"] if b["type"] == "section"]
    (head,) = [b for b in sections if b["text"]["text"].startswith("*Your team's corpora*")]
    assert head["accessory"]["action_id"] == "corpus_add"
    (line,) = [b for b in sections if "`home-rivers`" in b["text"]["text"]]
    assert "30 names" in line["text"]["text"] and line["accessory"]["value"] == "home-rivers"
    assert line["accessory"]["confirm"]["confirm"]["text"] == "Remove"

    before = len(stack.slack.modals)
    status, _ = stack.act({"type": "button", "action_id": "corpus_add", "value": "add"}, trigger=stack.slack.trigger())
    assert status == 200
    modal = wait_for(lambda: len(stack.slack.modals) > before and stack.slack.modals[-1], "the form from Home")
    assert modal["callback_id"] == "add_corpus"

    forged = {"type": "button", "action_id": "corpus_rm_1", "value": "home-rivers"}
    assert stack.act(forged, team="TOTHER")[0] == 200  # another team's click names no corpus of its own
    settled(stack)
    assert "home-rivers" in TeamCorpora(stack.redis).states(team_owner("T1"))

    stack.slack.views.pop(("T1", "U9"))
    remove = {"type": "button", "action_id": line["accessory"]["action_id"], "value": "home-rivers"}
    assert stack.act(remove, user="U9")[0] == 200
    home = wait_for(lambda: stack.slack.views.get(("T1", "U9")), "the Home tab published again")
    assert "home-rivers" not in json.dumps(home)
    assert "home-rivers" not in TeamCorpora(stack.redis).states(team_owner("T1"))
    assert not [k for k in stack.redis.scan_iter("tnaas:corpus*") if b"home-rivers" in k]


def test_corpora_and_is_name_include_the_teams_own_corpora_and_no_one_elses(stack):
    add_corpus(stack, "is-rivers", "VIS")
    status, ack, _ = stack.slash("corpora", channel="CIS")
    assert status == 200 and "pokemon" in ack and "`is-rivers`" in ack.split("Your team's own: ")[1]
    status, ack, _ = stack.slash("corpora", channel="CIS", team="TOTHER")
    assert "is-rivers" not in ack
    status, ack, _ = stack.slash("is danube", channel="CIS")
    assert status == 200 and ack == ""
    answer = wait_for(lambda: "real name in" in (said := json.dumps(stack.posts("CIS"))) and said, "is danube's answer")
    assert "is-rivers" in answer
    status, ack, _ = stack.slash("is danube", channel="CISOTHER", team="TOTHER")
    assert status == 200 and ack == ""
    answer = wait_for(lambda: len(posts := stack.posts("CISOTHER")) >= 2 and json.dumps(posts), "its answer")
    assert "sounds like" in answer and "is-rivers" not in answer


@pytest.fixture(autouse=True)
def fresh_upload_allowance(stack):
    """Each test's uploads start with a person's full hourly allowance (the module shares one stack)."""
    for key in stack.redis.scan_iter("tnaas:rate:corpus-upload:*"):
        stack.redis.delete(key)


def test_one_person_sends_at_most_a_few_corpora_an_hour_and_is_told_so_politely(stack):
    uploads = RateLimits(stack.redis)
    for _ in range(TEAM_CORPUS_UPLOADS_PER_HOUR):
        uploads.check_each(corpus_upload_counters("T1", "U1", TEAM_CORPUS_UPLOADS_PER_HOUR), HOUR)
    modal = open_form(stack)
    keys = set(stack.redis.scan_iter("tnaas:corpus*"))
    status, said = submit(stack, modal | {"id": "VRATE"}, form("one-more", RIVERS))
    error = json.loads(said)["errors"]["name"]
    assert status == 200 and f"may send {TEAM_CORPUS_UPLOADS_PER_HOUR} an hour" in error and "min" in error
    file = stack.slack.add_file("\n".join(RIVERS).encode())
    status, said = submit(stack, modal | {"id": "VRATE2"}, file_form("one-more", file))
    assert "an hour" in json.loads(said)["errors"]["name"]
    settled(stack)
    assert set(stack.redis.scan_iter("tnaas:corpus*")) == keys
    assert not [p for p in stack.slack.called("files.info") if p["file"] == file["id"]]
    with pytest.raises(RateLimited):  # another person of the team still has theirs; this one has none left
        uploads.check_each(corpus_upload_counters("T1", "U1", TEAM_CORPUS_UPLOADS_PER_HOUR), HOUR)
    uploads.check_each(corpus_upload_counters("T1", "U2", TEAM_CORPUS_UPLOADS_PER_HOUR), HOUR)


def test_the_download_stops_past_2_mb_and_refuses_the_sign_in_page(stack):
    """The worker's download on its own, against the stand-in: whatever ``files.info`` said of the size,
    it reads no more than a name list may hold, and a token Slack refuses gets a message, not a web page."""
    big = stack.slack.add_file(b"river\n" * 400_000)
    with pytest.raises(FileRefused, match="over 2 MB"):
        download(big | {"size": 10}, TOKEN)
    with pytest.raises(FileRefused, match="HTTP 302"):
        download(big, "xoxb-not-slacks")
    assert download(stack.slack.add_file(b"odin\nthor\n"), TOKEN) == b"odin\nthor\n"
