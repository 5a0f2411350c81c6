"""A team's own corpus from Slack end to end: `/techname corpus add` opens the form through the
stand-in, a signed submission is checked (problems under their field), trained by the real worker for
the submitting team alone, and its report reaches the submitter by direct message."""

import json

import pytest

from store.team_corpora import TeamCorpora, team_owner
from testkit.slack_standin import TOKEN, signed_post
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
