"""What the bot says in Slack: mrkdwn and Block Kit built from typed replies, user text made inert.

Slack's mrkdwn has three escapes (``&amp;``, ``&lt;``, ``&gt;``) and no escape for a backtick, so user
text is escaped and, where it is quoted, put in a code span it cannot leave (its backticks become
``ˋ``, its line breaks spaces). Candidate names go in bold unless they contain a formatting character.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

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
from store.votes import KEYCAPS, TopName

VOTE_ACTION = "vote"  # action_ids vote_1, vote_2, ... of the per-candidate buttons (bot/slack/listeners/votes.py)
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
        return f"<@{user}> asked to complete {code(request.pattern)} ({request.corpus})"
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


def candidate_blocks(reply: NamesReply, seeded: bool, key: str | None = None, head: str | None = None):
    """(blocks, fallback text): one line per candidate with its vote button, and how to vote.

    ``key`` goes into the buttons when the message's ts will be unknown (posted through a response_url).
    """
    lines, blocks = [], []
    if head:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=head)))
    for i, c in enumerate(reply.candidates, 1):
        line = f"{i}. {name_text(c.name)}" + (" _(already exists)_" if c.known else "")
        line += f" — {marks_text(c.availability)}" if c.availability else ""
        lines.append(line)
        button = ButtonElement(text="👍 Vote", action_id=f"{VOTE_ACTION}_{i}", value=vote_value(i, key))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=line), accessory=button))
    if reply.note:
        lines.append(f"_{escape(reply.note)}_")
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=lines[-1])]))
    fallback = "\n".join(([head] if head else []) + lines) or "No names found."
    if not reply.candidates:
        return [SectionBlock(text=MarkdownTextObject(text=fallback))], fallback
    votable = min(len(reply.candidates), len(KEYCAPS))
    how = "Vote with the buttons"
    how += f", or react with :one: … for the first {votable}" if key is None else ""
    how += " (I added the reactions to click)." if seeded else "."
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"{how} {model_text(reply)}.")]))
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


HOW_TO = (
    "*How to use it*\n`/techname pokemon 5` in any channel, `@tnaas pokemon 5` where I am, or just `pokemon 5` "
    "in a message to me. Also: `*u*a pokemon` (each * is one letter), `is snorlax`, `lang hej på dig`, "
    "`corpora`, `models`, `top`, `help`.\nCorpora: {corpora}."
)


def home_view(corpora: list[str], best: list[TopName], models: str) -> dict:
    """The App Home tab: how to use the bot, the team's best-voted names, the models' standings."""
    blocks = [
        HeaderBlock(text=PlainTextObject(text="TNaaS: names for your next project")),
        SectionBlock(text=MarkdownTextObject(text=HOW_TO.format(corpora=", ".join(corpora)))),
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
