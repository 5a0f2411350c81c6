"""What the bot says in Slack: mrkdwn and Block Kit built from typed replies, user text made inert.

Slack's mrkdwn has three escapes (``&amp;``, ``&lt;``, ``&gt;``) and no escape for a backtick, so user
text is escaped and, where it is quoted, put in a code span it cannot leave (its backticks become
``ˋ``, its line breaks spaces). Candidate names go in bold unless they contain a formatting character.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    ConversationSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    OptionGroup,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from core.limits import SLACK_BLOCKS_CHARS, SLACK_WORD_CHOICES, TEAM_CORPORA_PER_OWNER
from core.model_names import in_words
from core.standings import standings
from jobs.contracts import (
    CheckReply,
    CheckRequest,
    CompleteRequest,
    GenerateRequest,
    LikeRequest,
    MarkOut,
    NamesReply,
    SoundsLike,
    percentages,
)
from store.shortlists import ShortlistEntry, Shortlists
from store.votes import KEYCAPS, TopName

VOTE_ACTION = "vote"  # action_ids vote_1, vote_2, ... of the per-candidate buttons (bot/slack/listeners/votes.py)
SHORTLIST_ACTION = "shortlist"  # shortlist_1, ...: add the candidate to the team's shortlist
MORE_ACTION = "more"  # more_1, ...: the candidate's overflow menu, one option per MORE_OPTIONS
REMOVE_ACTION = "unshortlist"  # unshortlist_1, ...: the Home tab's Remove beside each shortlisted name
EXPORT_ACTION = "shortlist_export"  # the Home tab's Export: the shortlist as a CSV file, by direct message
MORE_OPTIONS = {"like": "More like this", "check": "Check availability", "down": "👎 Down-vote"}
BUTTONS = {VOTE_ACTION: "👍 Vote", SHORTLIST_ACTION: "⭐ Shortlist"}
COMPACT_OPTIONS = BUTTONS | MORE_OPTIONS  # a big reply's menu holds the buttons too: 5 options, Slack's most
MRKDWN = set("*_~`")
REGISTRY_NAMES = {"pypi": "PyPI", "npm": "npm"}


def escape(text: str) -> str:
    """Slack's three control characters: user text is never rendered as a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str, limit: int = 60) -> str:
    """User text in a code span it cannot break out of, bounded."""
    text = " ".join(text.replace("`", "ˋ").split())
    text = text[:limit] + ("…" if len(text) > limit else "")
    return f"`{escape(text)}`" if text else "` `"


def name_text(name: str) -> str:
    return code(name) if MRKDWN & set(name) else f"*{escape(name)}*"


def headline(request, user: str) -> str:
    free = " free" if getattr(request, "free", False) else ""
    if isinstance(request, GenerateRequest):
        return f"<@{user}> asked for {request.n}{free} {request.corpus} names"
    if isinstance(request, CompleteRequest):
        return f"<@{user}> asked to complete {code(request.pattern)} ({request.corpus}{', free names' if free else ''})"
    if isinstance(request, LikeRequest):
        return f"<@{user}> asked for{free} {request.corpus} names like {code(request.name)}"
    if isinstance(request, CheckRequest):
        names = ", ".join(code(n, limit=40) for n in request.names)
        return f"<@{user}> asked whether {names} {'is' if len(request.names) == 1 else 'are'} free"
    return f"<@{user}> asked what {code(request.text)} sounds like"


def marks_text(availability: dict[str, MarkOut]) -> str:
    """'free on PyPI · taken on npm' (empty when nothing was checked)."""
    return " · ".join(f"{m.verdict} on {REGISTRY_NAMES.get(r, r)}" for r, m in availability.items())


def check_text(reply: CheckReply) -> str:
    lines = []
    for item in reply.names:
        lines.append(f"{name_text(item.name)}: {marks_text(item.availability)}")
        lines += [
            f"  _{REGISTRY_NAMES.get(r, r)}: {escape(m.reason)}_"
            for r, m in item.availability.items()
            if m.reason and m.verdict != "free"
        ]
    return "\n".join(lines)


def vote_value(index: int, key: str | None) -> str:
    """A vote button's value: the candidate, and the message's key when Slack will not tell us its ts."""
    return f"{index}|{key}" if key else str(index)


def parse_vote_value(value: str) -> tuple[int, str | None]:
    index, _, key = value.partition("|")
    return int(index), key or None


def parse_more(action_id: str, value: str) -> tuple[str, int]:
    """(what, candidate index) of an overflow choice (``more_3``, ``like``); ValueError for anything
    the bot did not build."""
    prefix, _, index = action_id.rpartition("_")
    if prefix != MORE_ACTION or value not in COMPACT_OPTIONS or not index.isascii() or not index.isdigit():
        raise ValueError(f"not a choice the bot offers: {action_id[:40]!r} {value[:40]!r}")
    return value, int(index)


def candidate_actions(index: int, line: str, key: str | None, compact: bool = False, checked: bool = False) -> list:
    """One candidate: its line with an overflow menu (more like this, check, down-vote), then its
    Vote and Shortlist buttons; ``compact``: the line alone, every action in its menu (one block
    instead of two, half the characters). The message's ``key`` is the section's block_id (said once,
    not in every option); a line that shows its availability (``checked``) does not offer to check it."""
    options = COMPACT_OPTIONS if compact else MORE_OPTIONS
    options = {what: t for what, t in options.items() if not (checked and what == "check")}
    menu = OverflowMenuElement(
        action_id=f"{MORE_ACTION}_{index}",
        options=[Option(text=PlainTextObject(text=t), value=what) for what, t in options.items()],
    )
    section = SectionBlock(
        block_id=f"{key}:{index}" if key else None, text=MarkdownTextObject(text=line), accessory=menu
    )
    if compact:
        return [section]
    value = vote_value(index, key)
    buttons = [
        ButtonElement(text=PlainTextObject(text=t), action_id=f"{what}_{index}", value=value)
        for what, t in BUTTONS.items()
    ]
    return [section, ActionsBlock(elements=buttons)]


def key_of_block(block_id: str | None) -> str | None:
    """The message key ``candidate_actions`` put in a section's block_id (None: Slack's own block_id)."""
    key, sep, index = (block_id or "").rpartition(":")
    return key if sep and key and index.isdigit() else None


def blocks_chars(blocks: list) -> int:
    """Characters of ``blocks`` as JSON, as Slack measures a message against ~13,000."""
    return len(json.dumps([b.to_dict() for b in blocks], separators=(",", ":"), ensure_ascii=False))


def candidate_blocks(
    reply: NamesReply, seeded: bool, key: str | None = None, head: str | None = None, compact: bool = False
):
    """(blocks, fallback text): one line per candidate with its actions (``candidate_actions``), and how to vote.

    ``key`` goes into the buttons when the message's ts will be unknown (posted through a response_url).
    A reply whose blocks would pass ``SLACK_BLOCKS_CHARS`` (many long names) is built ``compact``: the
    Vote and Shortlist buttons move into each candidate's menu, so every reply the bot builds is one
    Slack accepts.
    """
    lines, blocks = [], []
    if head:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=head)))
    for i, c in enumerate(reply.candidates, 1):
        line = f"{i}. {name_text(c.name)}" + (" _(already exists)_" if c.known else "")
        line += f" — {marks_text(c.availability)}" if c.availability else ""
        lines.append(line)
        blocks += candidate_actions(i, line, key, compact, checked=bool(c.availability))
    if reply.note:
        lines.append(f"_{escape(reply.note)}_")
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=lines[-1])]))
    fallback = "\n".join(([head] if head else []) + lines) or "No names found."
    if not reply.candidates:
        return [SectionBlock(text=MarkdownTextObject(text=fallback))], fallback
    votable = min(len(reply.candidates), len(KEYCAPS))
    how = "Vote with the ⋮ menus" if compact else "Vote with the buttons"
    how += f", or react with :one: … for the first {votable}" if key is None else ""
    how += " (I added the reactions to click)." if seeded else "."
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"{how} {model_text(reply)}.")]))
    if not compact and blocks_chars(blocks) > SLACK_BLOCKS_CHARS:
        return candidate_blocks(reply, seeded, key, head, compact=True)
    return blocks, fallback


def model_text(reply: NamesReply) -> str:
    """Which model made the names in words, and whether the team's votes picked it (as the page says);
    the artifact's version stays in the logs and the vote export, where an operator reads it."""
    picked = ", picked by votes" if reply.model_chosen_by == "bandit" else ""
    return f"Made by {in_words(reply.model)}{picked}"


def sounds_like_text(answer: SoundsLike) -> str:
    parts = []
    if answer.real_in:
        parts.append(f"{code(answer.text)} is a real name in: {', '.join(answer.real_in)}.")
    if answer.verdict:
        parts.append(f"Pokemon or tech? *{answer.verdict.name}* {answer.verdict.probability:.0%}")
    if answer.corpora:
        parts.append(f"Sounds like: {percentages(answer.corpora)}")
    if answer.language != "unknown":
        parts.append(f"Language: {percentages(answer.languages)}")
    parts += [f"_{escape(n)}_" for n in answer.notes]
    return "\n".join(parts) or "Nothing to say about that."


def standings_text(title: str, counts: dict[str, tuple[int, int]]) -> str:
    """The bandit's standings in one line per arm: up-vote rate of generated names, interval, P(best)."""
    if not counts:
        return f"{title} by up-votes: no generated names shown yet."
    lines = [f"{title} by up-vote rate of generated names (90% interval, chance of being best):"]
    lines += [
        f"• {s.arm}: {s.mean:.0%} ({s.low:.0%}–{s.high:.0%}, {s.up}/{s.shown} up-voted, best {s.p_best:.0%})"
        for s in standings(counts)
    ]
    return "\n".join(lines)


def top_text(best: list[TopName]) -> str:
    """``tom (cats, 3)``: each name with the corpus it was made for and its net votes."""
    listed = ", ".join(f"{escape(t.name)} ({t.corpus}, {t.votes})" for t in best)
    return "Best-voted names: " + (listed or "no votes yet.")


def shortlist_line(entry: ShortlistEntry, marks: dict[str, MarkOut] | None = None) -> str:
    """``*kafkify* (pypi), added by @ann on Dec 7th``: Slack shows the date in the reader's time zone;
    with ``marks`` (re-checked as the Home tab opened), `` — free on PyPI · taken on npm``."""
    day = time.strftime("%Y-%m-%d", time.gmtime(entry.at))
    when = f"<!date^{int(entry.at)}^{{date_short}}|{day}>"
    line = f"{name_text(entry.name)} ({escape(entry.corpus)}), added by <@{entry.user}> on {when}"
    return line + (f" — {marks_text(marks)}" if marks else "")


def shortlist_text(entries: list[ShortlistEntry]) -> str:
    if not entries:
        return "Your team's shortlist is empty: click ⭐ Shortlist beside a name to keep it here."
    return f"Your team's shortlist ({len(entries)}):\n" + "\n".join(f"• {shortlist_line(e)}" for e in entries)


ShortlistMarks = dict[tuple[str, str], dict[str, MarkOut]]  # (name, corpus) -> its marks, re-checked


def shortlist_blocks(entries: list[ShortlistEntry], marks: ShortlistMarks | None = None) -> list:
    """The Home tab's shortlist: a line per name (with its re-checked ``marks``, when given) and its
    Remove button, and Export (at most ``SHORTLIST_MAX`` + 2 blocks: well within a view's 100)."""
    if not entries:
        return [SectionBlock(text=MarkdownTextObject(text="*Your team's shortlist*\n" + shortlist_text(entries)))]
    blocks: list = [SectionBlock(text=MarkdownTextObject(text=f"*Your team's shortlist* ({len(entries)})"))]
    for i, entry in enumerate(entries, 1):
        remove = ButtonElement(
            text=PlainTextObject(text="Remove"),
            action_id=f"{REMOVE_ACTION}_{i}",
            value=Shortlists.field(entry.name, entry.corpus),
        )
        line = shortlist_line(entry, (marks or {}).get((entry.name, entry.corpus)))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=line), accessory=remove))
    export = ButtonElement(text=PlainTextObject(text="Export as CSV"), action_id=EXPORT_ACTION, value="csv")
    blocks.append(ActionsBlock(elements=[export]))
    return blocks


HOW_TO = (
    "*How to use it*\n`/techname pokemon 5` in any channel, `@tnaas pokemon 5` where I am, or just `pokemon 5` "
    "in a message to me. Also: `*u*a pokemon` (each * is one letter), `like kafka`, `is kafka free`, "
    "`is snorlax`, `lang hej på dig`, `corpora`, `models`, `top`, `shortlist`, `help`.\nCorpora: {corpora}."
)


def home_view(
    corpora: list[str],
    best: list[TopName],
    models: str,
    shortlist: list[ShortlistEntry] | None = None,
    marks: ShortlistMarks | None = None,
    team_corpora: dict[str, dict] | None = None,
) -> dict:
    """The App Home tab: how to use the bot, the team's shortlist (``marks``: its names re-checked), its
    own corpora, its best-voted names, the models' standings."""
    blocks = [
        HeaderBlock(text=PlainTextObject(text="TNaaS: names for your next project")),
        SectionBlock(text=MarkdownTextObject(text=HOW_TO.format(corpora=", ".join(corpora)))),
        *shortlist_blocks(shortlist or [], marks),
        *team_corpora_blocks(team_corpora or {}),
        SectionBlock(text=MarkdownTextObject(text="*Your team's favourites*\n" + top_text(best))),
        SectionBlock(text=MarkdownTextObject(text="*Models*\n" + models)),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Votes (buttons, number reactions) teach the ranking what your team likes. "
                    "An admin can delete a person's votes and requests: `tnaas votes forget --user U…`."
                )
            ]
        ),
    ]
    return {"type": "home", "blocks": [b.to_dict() for b in blocks]}


NAMES_LIKE_THIS = "names_like_this"  # the message shortcut's callback_id
NAME_MODAL = "name_something"  # the modal's callback_id, and the global shortcut's
MODAL_FIELDS = ("corpus", "model", "n", "pattern", "like", "free", "where")  # each input's block_id and action_id
BEST_MODEL = "best"


def name_modal(
    corpora: list[str],
    models: list[str],
    default_n: int,
    max_n: int,
    channel: str | None,
    own: list[str] | None = None,
) -> dict:
    """The "Name something" form: what `/techname` would be typed, picked instead; posted where chosen
    (the conversation it was opened from, by default). Its values become a command for the grammar.
    ``own``: the team's own corpora (and the operator's), offered in a group of their own."""

    def choice(value: str, text: str | None = None) -> Option:
        return Option(text=PlainTextObject(text=text or value), value=value)

    def field(name: str, label: str, element, optional: bool = False, hint: str | None = None) -> InputBlock:
        return InputBlock(block_id=name, label=label, element=element, optional=optional, hint=hint)

    own = [c for c in own or [] if c not in corpora][:TEAM_CORPORA_PER_OWNER]
    corpus_options = [choice(c) for c in corpora[: 100 - len(own)]]  # a static select holds at most 100 options
    own_options = [choice(c) for c in own]
    corpus_select = StaticSelectElement(action_id="corpus", options=corpus_options, initial_option=corpus_options[0])
    if own_options:
        groups = [
            OptionGroup(label=PlainTextObject(text="Built in"), options=corpus_options),
            OptionGroup(label=PlainTextObject(text="Your team's"), options=own_options),
        ]
        corpus_select = StaticSelectElement(action_id="corpus", option_groups=groups, initial_option=corpus_options[0])
    model_options = [choice(BEST_MODEL, "the best (votes decide)")] + [choice(m) for m in models[:99]]
    where = ConversationSelectElement(action_id="where", default_to_current_conversation=True)
    if channel:
        where = ConversationSelectElement(action_id="where", initial_conversation=channel)
    blocks = [
        field("corpus", "Corpus", corpus_select),
        field(
            "model",
            "Model",
            StaticSelectElement(action_id="model", options=model_options, initial_option=model_options[0]),
        ),
        field(
            "n", "How many", NumberInputElement(action_id="n", initial_value=default_n, min_value=1, max_value=max_n)
        ),
        field(
            "pattern",
            "Pattern",
            PlainTextInputElement(action_id="pattern", max_length=32, placeholder="*u*a: each * is one letter"),
            optional=True,
        ),
        field(
            "like",
            "Names like",
            PlainTextInputElement(action_id="like", max_length=32, placeholder="kafka"),
            optional=True,
        ),
        field(
            "free",
            "Availability",
            CheckboxesElement(action_id="free", options=[choice("free", "Only names free on the registry")]),
            optional=True,
        ),
        field("where", "Post in", where),
    ]
    view = View(
        type="modal",
        callback_id=NAME_MODAL,
        title="Name something",
        submit="Post names",
        close="Cancel",
        blocks=blocks,
    )
    return view.to_dict()


def modal_command(values: dict) -> tuple[str, str | None]:
    """(the command text the form stands for, the conversation to post in) from a view_submission's
    ``state.values``; the grammar reads the text as it reads a typed one."""

    def value(name: str) -> str:
        got = (values.get(name) or {}).get(name) or {}
        picked = got.get("selected_option") or {}
        return str(picked.get("value") or got.get("value") or "").strip()

    free = bool(((values.get("free") or {}).get("free") or {}).get("selected_options"))
    where = ((values.get("where") or {}).get("where") or {}).get("selected_conversation")
    corpus, model, n = value("corpus"), value("model"), value("n")
    words = []
    if value("like"):
        words = ["like", value("like").split()[0] if value("like").split() else ""]
    elif value("pattern"):
        words = ["".join(value("pattern").split())]
    words += [corpus, n] + (["free"] if free else []) + ([f"model={model}"] if model and model != BEST_MODEL else [])
    return " ".join(w for w in words if w), where


CORPUS_MODAL = "add_corpus"  # the "Add a corpus" modal's callback_id
CORPUS_FIELDS = ("name", "names", "description")  # each text input's block_id and action_id
CORPUS_FILE = "file"  # the file input's block_id and action_id
CORPUS_FILETYPES = ["txt", "csv"]


def corpus_modal(text_box: int, min_names: int, slug_len: int, max_mb: int) -> dict:
    """The "Add a corpus" form: the corpus' name, its names pasted one per line or a file of them (one or
    the other), an optional description. The submission is checked as an API upload is (``corpora.team``),
    then trained for the team; a file is fetched and checked by a worker."""
    blocks = [
        InputBlock(
            block_id="name",
            label="Corpus name",
            element=PlainTextInputElement(action_id="name", max_length=slug_len, placeholder="norse-gods"),
            hint="Lowercase letters, digits and single hyphens: what you will type after /techname.",
        ),
        InputBlock(
            block_id="names",
            label="Names, one per line",
            element=PlainTextInputElement(
                action_id="names", multiline=True, max_length=text_box, placeholder="odin\nthor\nfreya"
            ),
            hint=f"Paste at least {min_names} names, up to {text_box:,} characters (one Slack text box), "
            "or leave this empty and upload a file below: one or the other.",
            optional=True,
        ),
        InputBlock(
            block_id=CORPUS_FILE,
            label="Or a file of names",
            element=FileInputElement(action_id=CORPUS_FILE, filetypes=CORPUS_FILETYPES, max_files=1),
            hint=f"A .txt with one name per line, or a .csv whose first column is the names; up to {max_mb} MB.",
            optional=True,
        ),
        InputBlock(
            block_id="description",
            label="Description",
            element=PlainTextInputElement(action_id="description", max_length=150),
            optional=True,
        ),
    ]
    view = View(
        type="modal", callback_id=CORPUS_MODAL, title="Add a corpus", submit="Train", close="Cancel", blocks=blocks
    )
    return view.to_dict()


def corpus_form(values: dict) -> dict[str, str]:
    """{field: text} of an "Add a corpus" submission's ``state.values`` (a missing field: "")."""
    return {name: str(((values.get(name) or {}).get(name) or {}).get("value") or "") for name in CORPUS_FIELDS}


def corpus_form_files(values: dict) -> list[dict]:
    """The files of an "Add a corpus" submission's file input (Slack's file objects, each with its
    ``id``); anything else in their place is dropped."""
    files = ((values.get(CORPUS_FILE) or {}).get(CORPUS_FILE) or {}).get("files") or []
    return (
        [f for f in files if isinstance(f, dict) and isinstance(f.get("id"), str) and f["id"]]
        if isinstance(files, list)
        else []
    )


def corpus_status(state: dict) -> str:
    """A team corpus in a few words: training, its names and model, or why it failed."""
    report = state.get("report") or {}
    if state.get("training"):
        return "training…"
    if state.get("status") == "ready":
        return f"{report.get('names', 0)} names, {escape(report.get('model', ''))}"
    return escape(f"failed: {state.get('error') or 'not trained'}")


CORPUS_ADD_ACTION = "corpus_add"  # the Home tab's "Add a corpus": the same form as `/techname corpus add`
CORPUS_REMOVE_ACTION = "corpus_rm"  # corpus_rm_1, ...: the Home tab's Remove beside each of the team's corpora


def team_corpora_blocks(states: dict[str, dict]) -> list:
    """The Home tab's own corpora of the team: a line per corpus (names, model) with its Remove button
    (confirmed first), and "Add a corpus" (at most TEAM_CORPORA_PER_OWNER + 1 blocks)."""
    add = ButtonElement(text=PlainTextObject(text="Add a corpus"), action_id=CORPUS_ADD_ACTION, value="add")
    intro = "Your team's own lists of names, for this workspace alone: `/techname NAME 5` makes names like them."
    if not states:
        intro = "None yet: add a list of names (your services, a theme), then `/techname NAME 5` makes names like them."
    blocks: list = [SectionBlock(text=MarkdownTextObject(text=f"*Your team's corpora*\n{intro}"), accessory=add)]
    for i, (slug, state) in enumerate(states.items(), 1):
        remove = ButtonElement(
            text=PlainTextObject(text="Remove"),
            action_id=f"{CORPUS_REMOVE_ACTION}_{i}",
            value=slug,
            confirm=ConfirmObject(
                title="Remove this corpus?",
                text=f"{code(slug)}, its trained model and every name shown from it (with their votes) go for good.",
                confirm="Remove",
                deny="Keep it",
            ),
        )
        line = f"{code(slug)}: {corpus_status(state)}"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=line), accessory=remove))
    return blocks


def corpus_report_text(slug: str, state: dict) -> str:
    """The DM a corpus' submitter gets once its training is done: kept and dropped names and why, the
    model, five examples and the warning; or why it failed."""
    if state.get("status") != "ready" or not state.get("report"):
        why = state.get("error") or "its training did not finish"
        return f"Your corpus {code(slug)} was not trained: {escape(why)}"
    report = state["report"]
    dropped = ", ".join(f"{count} {reason}" for reason, count in (report.get("dropped") or {}).items())
    lines = [
        f"Your corpus {code(slug)} is ready: try {code('/techname ' + slug)}.",
        f"*Names kept:* {report.get('names', 0)}; *dropped:* {dropped or 'none'}.",
        f"*Model:* {in_words(report['model']) if report.get('model') else 'none'}",
        "*Examples:* " + ", ".join(code(name) for name in (report.get("examples") or [])[:5]),
    ]
    lines += [f"_{escape(note)}_" for note in report.get("notes") or []]
    if report.get("warning"):
        lines.append(f":warning: {escape(report['warning'])}")
    return "\n".join(lines)


WORD_MODAL = "names_like_this_word"  # the "Names like this" word picker's callback_id
WORD_FIELD = "word"  # its select's block_id and action_id
WORD_MODAL_STATES = "names_like_this_state"  # the callback_id of the picker's "working" and "done" states
CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]{2,20}")
MESSAGE_TS = re.compile(r"\d{1,12}\.\d{1,8}")
TEAM_ID = re.compile(r"[TE][A-Z0-9]{1,20}")
USER_ID = re.compile(r"[UW][A-Z0-9]{1,20}")


@dataclass(frozen=True)
class MessageRef:
    """The message a word picker was opened on, kept in the view's private_metadata: its conversation
    and ts, the team and person it was opened for (a submission from anyone else does nothing)."""

    team: str
    user: str
    channel: str
    ts: str

    def metadata(self) -> str:
        return json.dumps({"team": self.team, "user": self.user, "channel": self.channel, "ts": self.ts})

    @classmethod
    def of(cls, metadata: object) -> MessageRef:
        """The reference ``metadata`` holds; ValueError for anything ``metadata()`` did not write."""
        if not isinstance(metadata, str) or not 0 < len(metadata) <= 200:
            raise ValueError("private_metadata missing or oversized")
        try:
            fields = json.loads(metadata)
        except ValueError:
            raise ValueError("private_metadata is not ours") from None
        if not isinstance(fields, dict) or set(fields) != {"team", "user", "channel", "ts"}:
            raise ValueError("private_metadata is not ours")
        ref = cls(**{k: str(v) for k, v in fields.items()})
        if not (
            TEAM_ID.fullmatch(ref.team)
            and USER_ID.fullmatch(ref.user)
            and CHANNEL_ID.fullmatch(ref.channel)
            and MESSAGE_TS.fullmatch(ref.ts)
        ):
            raise ValueError("private_metadata is not ours")
        return ref


def word_modal(words: list[str], ref: MessageRef) -> dict:
    """ "Names like this" on a message of several words: which one to start from (the first preselected);
    the answer goes in the message's thread."""
    options = [Option(text=PlainTextObject(text=w[:75]), value=w) for w in words[:SLACK_WORD_CHOICES]]
    picker = StaticSelectElement(action_id=WORD_FIELD, options=options, initial_option=options[0])
    view = View(
        type="modal",
        callback_id=WORD_MODAL,
        title="Names like this",
        submit="Suggest names",
        close="Cancel",
        private_metadata=ref.metadata(),
        blocks=[
            InputBlock(
                block_id=WORD_FIELD,
                label="Start from",
                element=picker,
                hint="The names are posted in the message's thread.",
            )
        ],
    )
    return view.to_dict()


def picked_word(values: dict) -> str:
    """The word a picker's submission chose ("" when it holds none)."""
    picked = ((values.get(WORD_FIELD) or {}).get(WORD_FIELD) or {}).get("selected_option") or {}
    return str(picked.get("value") or "").strip()


def word_state_view(text: str, ref: MessageRef | None = None) -> dict:
    """The picker once submitted: "Working on it…", then what was done; no submit button."""
    view = View(
        type="modal",
        callback_id=WORD_MODAL_STATES,
        title="Names like this",
        close="Close",
        private_metadata=ref.metadata() if ref else None,
        blocks=[SectionBlock(text=MarkdownTextObject(text=text[:3000]))],
    )
    return view.to_dict()


def working_text(word: str) -> str:
    return f"Working on it… names like {code(word)} will be posted in the message's thread."


def done_text(word: str, posted_in_thread: bool, error: str | None) -> str:
    if posted_in_thread:
        return f"Done: names like {code(word)} are in the message's thread."
    if error:
        return f"No names like {code(word)} this time: {escape(error)}"
    return f"Done: names like {code(word)} were sent to you, as I could not post in that thread."
