"""Block Kit against Slack's limits: the stand-in refuses what Slack refuses, and every message and view
the bot builds passes it at its largest (the most names, the longest names and corpus names)."""

import json

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.messages import (
    MessageRef,
    candidate_blocks,
    done_text,
    headline,
    home_view,
    name_modal,
    standings_text,
    word_modal,
    word_state_view,
    working_text,
)
from core.limits import (
    MAX_CORPUS_NAME_LEN,
    MAX_N,
    MAX_NAME_LEN,
    MAX_PATTERN_LEN,
    SHORTLIST_MAX,
    SLACK_WORD_CHOICES,
    TEAM_CORPORA_PER_OWNER,
    TEAM_CORPUS_SLUG_LEN,
    TOP_NAMES,
)
from jobs.contracts import CandidateOut, CompleteRequest, LikeRequest, MarkOut, NamesReply
from store.shortlists import ShortlistEntry
from store.votes import TopName
from testkit.slack_standin import TOKEN, SlackStandIn


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def client(slack):
    slack.block_refusals.clear()
    slack.new_minute()
    return WebClient(token=TOKEN, base_url=slack.url)


def section(text="x", **kw):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **kw}


def button(i, text="Go", **kw):
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": f"a{i}", **kw}


def overflow(options: int):
    opts = [{"text": {"type": "plain_text", "text": f"o{i}"}, "value": f"v{i}"} for i in range(options)]
    return {"type": "overflow", "action_id": "menu", "options": opts}


def context(elements: int):
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * elements}


TOO_MUCH = {
    "51 blocks": ([section()] * 51, "invalid_blocks"),
    "section text over 3000": ([section("x" * 3001)], "invalid_blocks"),
    "button text over 75": ([section(accessory=button(1, "b" * 76))], "invalid_blocks"),
    "action_id over 255": ([{"type": "actions", "elements": [button(1) | {"action_id": "a" * 256}]}], "invalid_blocks"),
    "action_id repeated": ([section(accessory=button(1)), section(accessory=button(1))], "invalid_blocks"),
    "26 elements in actions": ([{"type": "actions", "elements": [button(i) for i in range(26)]}], "invalid_blocks"),
    "11 elements in context": ([context(11)], "invalid_blocks"),
    "overflow of 1": ([section(accessory=overflow(1))], "invalid_blocks"),
    "overflow of 6": ([section(accessory=overflow(6))], "invalid_blocks"),
    "blocks over 13,000 characters": ([section("x" * 2900)] * 5, "msg_blocks_too_long"),
}
AT_THE_LIMIT = {
    "50 blocks": [section()] * 50,
    "section text of 3000": [section("x" * 3000)],
    "button text of 75": [section(accessory=button(1, "b" * 75))],
    "25 elements in actions": [{"type": "actions", "elements": [button(i) for i in range(25)]}],
    "10 elements in context": [context(10)],
    "overflow of 2": [section(accessory=overflow(2))],
    "overflow of 5": [section(accessory=overflow(5))],
}


@pytest.mark.parametrize("case", list(TOO_MUCH))
def test_the_standin_refuses_a_message_past_slacks_limits(slack, client, case):
    blocks, error = TOO_MUCH[case]
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="CBK", text="t", blocks=blocks)
    assert err.value.response["error"] == error and len(slack.block_refusals) == 1
    with pytest.raises(SlackApiError):
        client.chat_postEphemeral(channel="CBK", user="U1", text="t", blocks=blocks)
    if error == "invalid_blocks":  # a view holds 100 blocks and has no 13,000-character limit
        with pytest.raises(SlackApiError, match="invalid_arguments"):
            client.views_publish(user_id="U1", view={"type": "home", "blocks": blocks * (2 if len(blocks) > 1 else 1)})


@pytest.mark.parametrize("case", list(AT_THE_LIMIT))
def test_the_standin_takes_a_message_at_slacks_limits(slack, client, case):
    assert client.chat_postMessage(channel="CBK", text="t", blocks=AT_THE_LIMIT[case])["ok"]
    assert slack.block_refusals == []


def test_a_view_takes_100_blocks_not_101(slack, client):
    assert client.views_publish(user_id="U1", view={"type": "home", "blocks": [section()] * 100})["ok"]
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [section()] * 101})


LONGEST_NAMES = ["_" * MAX_NAME_LEN, "x" * MAX_NAME_LEN, "a.b-c" * (MAX_NAME_LEN // 5)]
LONGEST_CORPUS = "c" * MAX_CORPUS_NAME_LEN
MARKS = {
    "pypi": MarkOut(verdict="not registered", reason="r" * 80),
    "npm": MarkOut(verdict="not allowed", reason="r" * 80),
}


def largest_replies():
    """The biggest replies the bot can build: MAX_N of the longest names, every mark and note."""
    for name in LONGEST_NAMES:
        for marks in (MARKS, {}):
            yield NamesReply(
                corpus="pypi",
                model="markov5",
                model_version="v" * 12,
                model_chosen_by="bandit",
                note="n" * 300,
                candidates=[
                    CandidateOut(name=name, log_prob=-9.0, known=True, believability=0.5, availability=marks)
                    for _ in range(MAX_N)
                ],
            )


@pytest.mark.parametrize("key", [None, "r" + "f" * 36])
def test_every_candidate_message_passes_at_its_largest(slack, client, key):
    """As the bot posts it in a thread, through a response_url (with a key) and by DM (with a note)."""
    heads = [
        None,
        headline(CompleteRequest(pattern="*" * MAX_PATTERN_LEN, corpus="pokemon"), "U" + "9" * 10),
        "I can't post in that conversation, so here is your answer privately.\n"
        + headline(LikeRequest(name="k" * MAX_NAME_LEN, corpus="pokemon"), "U" + "9" * 10).replace(
            "pokemon", LONGEST_CORPUS
        ),
    ]
    for reply in largest_replies():
        for head in heads:
            blocks, text = candidate_blocks(reply, seeded=True, key=key, head=head)
            payload = [b.to_dict() for b in blocks]
            slack.new_minute()  # Slack's one post a second per channel is not what this test is about
            assert client.chat_postMessage(channel="CBK", text=text, blocks=payload)["ok"]
            assert len(json.dumps(payload, ensure_ascii=False, separators=(",", ":"))) < 13_000
    assert slack.block_refusals == []


def test_the_home_tab_passes_with_a_full_shortlist_and_the_longest_names(slack, client):
    shortlist = [
        ShortlistEntry(name=f"{i:02d}" + "_" * (MAX_NAME_LEN - 2), corpus=LONGEST_CORPUS, user="U" + "9" * 10, at=1e9)
        for i in range(SHORTLIST_MAX)
    ]
    top = [TopName("x" * MAX_NAME_LEN, LONGEST_CORPUS, 999) for _ in range(TOP_NAMES)]
    counts = {f"kn{k}": (10_000, 5_000) for k in range(1, 9)} | {f"markov{k}": (10_000, 5_000) for k in range(1, 6)}
    corpora = [f"{i}" + "c" * (MAX_CORPUS_NAME_LEN - 1) for i in range(20)]
    own = {
        f"{i:02d}" + "-x" * ((TEAM_CORPUS_SLUG_LEN - 2) // 2): {"status": "failed", "error": "e" * 300}
        for i in range(TEAM_CORPORA_PER_OWNER)
    }
    view = home_view(corpora, top, standings_text("Models", counts), shortlist, team_corpora=own)
    assert client.views_publish(user_id="U1", view=view)["ok"]
    assert slack.block_refusals == []


def test_the_word_picker_and_its_states_pass_at_their_largest(slack, client):
    """The most words, the longest ones, the longest message reference; then "working" and "done" by
    views.update, with the longest word and error."""
    words = [f"{i:02d}" + "w" * (MAX_NAME_LEN - 2) for i in range(SLACK_WORD_CHOICES)]
    ref = MessageRef(team="T" + "9" * 20, user="U" + "9" * 20, channel="C" + "9" * 20, ts="9" * 12 + "." + "9" * 8)
    assert MessageRef.of(ref.metadata()) == ref
    opened = client.views_open(trigger_id=slack.trigger(), view=word_modal(words + ["more"], ref))["view"]
    assert len(opened["blocks"][0]["element"]["options"]) == SLACK_WORD_CHOICES
    for text in (working_text(words[0]), done_text(words[0], False, "e" * 2000), done_text(words[0], True, None)):
        client.views_update(view_id=opened["id"], view=word_state_view(text, ref), hash=None)
    assert slack.block_refusals == []


def test_the_name_modal_passes_with_every_corpus_and_the_most_own_corpora_of_the_longest_names(slack, client):
    corpora = [f"{i:03d}" + "c" * (MAX_CORPUS_NAME_LEN - 3) for i in range(120)]
    own = [f"{i:02d}" + "o" * (MAX_CORPUS_NAME_LEN - 2) for i in range(TEAM_CORPORA_PER_OWNER + 5)]
    view = name_modal(corpora, ["kn5"] * 120, 5, MAX_N, "C" + "9" * 20, own)
    corpus = next(b for b in view["blocks"] if b["block_id"] == "corpus")["element"]
    assert sum(len(g["options"]) for g in corpus["option_groups"]) == 100
    assert len(corpus["option_groups"][1]["options"]) == TEAM_CORPORA_PER_OWNER
    assert client.views_open(trigger_id=slack.trigger(), view=view)["ok"] and slack.block_refusals == []


def test_the_standin_plays_views_update_as_slack_does(slack, client):
    """A view is updated by its id, only with its current hash when one is given; a closed one, another
    team's, one too large or past Block Kit's limits, or taking another view's external_id is refused."""
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [section()]}
    first = client.views_open(trigger_id=slack.trigger(), view=modal | {"external_id": "x1"})["view"]
    second = client.views_open(trigger_id=slack.trigger(), view=modal)["view"]
    updated = client.views_update(view_id=first["id"], hash=first["hash"], view=modal | {"external_id": "x1"})["view"]
    assert updated["hash"] != first["hash"]
    refused = {
        "hash_conflict": dict(view_id=first["id"], hash=first["hash"], view=modal),  # stale hash
        "duplicate_external_id": dict(view_id=second["id"], view=modal | {"external_id": "x1"}),
        "view_too_large": dict(view_id=first["id"], view=modal | {"blocks": [section("x" * 2900)] * 90}),
        "invalid_arguments": dict(view_id=first["id"], view=modal | {"blocks": [section()] * 101}),
        "not_found": dict(view_id="VNOPE", view=modal),
    }
    for code, call in refused.items():
        with pytest.raises(SlackApiError, match=code):
            client.views_update(**call)
    slack.closed(second["id"])
    with pytest.raises(SlackApiError, match="not_found"):
        client.views_update(view_id=second["id"], view=modal)
    other = WebClient(token=slack.token("xoxb-other", "T2"), base_url=slack.url)
    with pytest.raises(SlackApiError, match="not_found"):
        other.views_update(view_id=first["id"], view=modal)
    assert client.views_update(external_id="x1", view=modal)["ok"]
    slack.block_refusals.clear()
