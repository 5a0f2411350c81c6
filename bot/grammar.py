"""The command grammar shared by `/techname` and `@tnaas` mentions: text in, one typed request out.

| text | request |
| `` / `help` | Help |
| `corpora`, `models`, `top` | ListThings |
| `pokemon`, `pypi 10`, `npm model=markov2 n=8` | GenerateRequest |
| `*u*a pokemon`, `mo*** pypi`, `***ly` | CompleteRequest (each `*` is one letter) |
| `is snorlax`, `detect kafka`, `lang <text>` | DetectRequest |

Parse, don't validate: everything downstream works with the typed request. Slack mrkdwn control
sequences (`<!channel>`, `<@U123>`, links) are removed before parsing and never echoed back.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from corpora import corpus_names
from jobs.contracts import (
    CompleteRequest,
    DetectRequest,
    GenerateRequest,
    checked_corpus,
    checked_model,
    checked_n,
    checked_pattern,
)
from models.pattern import WILDCARD
from tnaas.errors import CommandError
from tnaas.limits import MAX_TEXT_LEN
from tnaas.settings import Settings, get_settings

SLACK_CONTROL = re.compile(r"<[!@#][^>]*>|<(?:https?|mailto):[^>]*>")
DETECT_WORDS = {"is", "detect", "lang"}
LIST_WORDS = {"corpora", "models", "top"}


class Help(BaseModel):
    kind: Literal["help"] = "help"


class ListThings(BaseModel):
    kind: Literal["list"] = "list"
    what: Literal["corpora", "models", "top"]


Command = Help | ListThings | GenerateRequest | CompleteRequest | DetectRequest


def usage(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return (
        "Try `pokemon`, `pypi 10`, `npm model=markov2 n=8` (new names), `*u*a pokemon` or `mo*** pypi` "
        "(each * is one letter), `is snorlax` or `lang hej på dig` (what it sounds like), `corpora`, `models`, `top`. "
        f"Corpora: {', '.join(corpus_names())}. At most {settings.max_n} names."
    )


def strip_slack_markup(text: str) -> tuple[str, bool]:
    """Remove mentions, channel/broadcast tags and links; report whether anything was removed."""
    cleaned = SLACK_CONTROL.sub(" ", text)
    return " ".join(cleaned.split()), cleaned != text


def parse_command(text: str, settings: Settings | None = None) -> Command:
    """The one request ``text`` asks for, or a CommandError that says what would work."""
    settings = settings or get_settings()
    if len(text) > MAX_TEXT_LEN:
        raise CommandError(f"That is {len(text):,} characters; I read at most {MAX_TEXT_LEN:,}. {usage(settings)}")
    text, _ = strip_slack_markup(text)
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help()
    head = words[0].lower()
    if head in DETECT_WORDS:
        rest = text.split(None, 1)[1] if len(words) > 1 else ""
        if not rest.strip():
            raise CommandError(f"`{head}` needs a name or some text after it, e.g. `{head} snorlax`.")
        return DetectRequest(text=rest)
    if head in LIST_WORDS and len(words) == 1:
        return ListThings(what=head)
    options, positional = _options(words, settings)
    model = options.get("model")
    n = int(options.get("n", settings.default_n))
    patterns = [w for w in positional if WILDCARD in w]
    others = [w.lower() for w in positional if WILDCARD not in w]
    numbers = [w for w in others if w.isdigit()]
    names = [w for w in others if not w.isdigit()]
    if numbers:
        n = int(numbers[0])
    checked_n(n, settings)
    if len(names) > 1 or len(patterns) > 1 or len(numbers) > 1:
        raise CommandError(f"I didn't understand `{_shown(text)}`. {usage(settings)}")
    corpus = checked_corpus(names[0]) if names else None
    if patterns:
        pattern = checked_pattern(patterns[0])
        return CompleteRequest(pattern=pattern, corpus=corpus or settings.default_corpus, model=model, n=n)
    if corpus is None:
        raise CommandError(f"Which corpus? {usage(settings)}")
    return GenerateRequest(corpus=corpus, model=model, n=n)


def _options(words: list[str], settings: Settings) -> tuple[dict[str, str], list[str]]:
    options, positional = {}, []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            positional.append(word)
            continue
        key = key.lower()
        if key == "model":
            options["model"] = checked_model(value)  # raises UnknownModel with the list of models
        elif key == "n" and value.isdigit():
            options["n"] = value
        else:
            raise CommandError(f"I don't know the option `{_shown(word)}`: use `model=` or `n=`. {usage(settings)}")
    return options, positional


def _shown(text: str, limit: int = 40) -> str:
    """User text safe to echo inside a code span: no backticks, no markup, bounded length."""
    text = text.replace("`", "'")
    return text[:limit] + ("…" if len(text) > limit else "")
