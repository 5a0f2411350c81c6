"""The command grammar shared by `/techname` and `@tnaas` mentions: text in, one typed request out.

| text | request |
| `` / `help` | Help |
| `corpora`, `models`, `top`, `shortlist` | ListThings |
| `pokemon`, `pypi 10`, `npm model=markov2 n=8` | GenerateRequest |
| `*u*a pokemon`, `mo*** pypi`, `***ly` | CompleteRequest (each `*` is one letter) |
| `is snorlax`, `detect kafka`, `lang <text>` | DetectRequest |
| `pypi 5 free`, `like kafka pypi free` | only names free on the corpus' registry |
| `like kafka`, `like kafka pypi 8`, `names like kafka`, `5 pypi names like kafka` | LikeRequest (names a few edits away) |
| `check kafkify`, `check kafkify pykafka`, `is kafka free`, `is kafka available?` | CheckRequest (free on PyPI / npm?) |
| `corpus add`, `corpus list`, `corpus rm norse-gods` | CorpusAction (the team's own corpora) |
| `norse-gods`, `like odin norse-gods` | a request from the team's own corpus (``own``: its owner set) |

People write as they speak: `5 pokemon names` is `pokemon 5` (the filler word `names` is dropped), a
question mark at the end is ignored, and a word the grammar does not know is answered with the
closest one it does (``difflib``), so a typo meets a suggestion rather than the whole usage.

Parse, don't validate: the words become the fields of one typed request, which checks itself
(``jobs.contracts``); its first problem, in the order the words are read, is the error the user
sees. Everything downstream works with the typed request. Slack sends the user's
own `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`, so anything between angle brackets is Slack markup
(mentions, channels, `<!here>`, links of any scheme): it is removed before parsing, never echoed
back, and the three entities are decoded so that the text is what the user typed. Numbers are
ASCII digits; other digits (`³`, `①`, `٥`) are refused with a message that says so.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

from pydantic import BaseModel, ValidationError

from core.errors import CommandError, shown
from core.limits import MAX_NAME_LEN, MAX_TEXT_LEN
from core.pattern import WILDCARD
from core.settings import Settings, get_settings
from corpora import corpus_names
from jobs.contracts import (
    OWN_CORPORA,
    CheckRequest,
    CompleteRequest,
    DetectRequest,
    GenerateRequest,
    LikeRequest,
    first_problem,
)

SLACK_MARKUP = re.compile(r"<[^<>]*>")  # every form: <@U1>, <#C1|x>, <!here>, <ftp://a|b>, <tel:1>, <mailto:x>
SLACK_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}  # the only three Slack escapes
MAX_NUMBER_DIGITS = 4
DETECT_WORDS = {"is", "detect", "lang"}
CHECK_WORD, LIKE_WORD, FREE_WORD = "check", "like", "free"
LIST_WORDS = {"corpora", "models", "top", "shortlist"}
FILLER_WORDS = {"name", "names"}  # `5 pokemon names`, `names like kafka`: what people add, meaning nothing more
AVAILABILITY_WORDS = {"free", "available", "taken"}  # `is kafka free`: a check, not "what does 'kafka free' sound like"
COMMAND_WORDS = (
    "help",
    "corpora",
    "models",
    "top",
    "shortlist",
    "like",
    "check",
    "free",
    "is",
    "detect",
    "lang",
    "model=",
    "n=",
)
READ_ORDER = ("model", "name", "n", "corpus", "pattern")  # options first, then the words as they are read


class Help(BaseModel):
    kind: Literal["help"] = "help"


class ListThings(BaseModel):
    kind: Literal["list"] = "list"
    what: Literal["corpora", "models", "top", "shortlist"]


CORPUS_WORD = "corpus"
CORPUS_ACTIONS = ("add", "list", "rm")


class CorpusAction(BaseModel):
    """`corpus add|list|rm NAME`: a team's own corpora."""

    kind: Literal["corpus"] = "corpus"
    action: Literal["add", "list", "rm"]
    name: str | None = None


Command = (
    Help | ListThings | CorpusAction | GenerateRequest | CompleteRequest | LikeRequest | CheckRequest | DetectRequest
)


def usage(settings: Settings | None = None) -> str:
    """Every command, each with an example (``COMMAND_WORDS`` all appear: a test says so)."""
    settings = settings or get_settings()
    return (
        "Try `pokemon`, `5 pypi names`, `npm model=markov2 n=8` (new names), `pypi 5 free` (only names free "
        "on PyPI), `*u*a pokemon` or `mo*** pypi` (each * is one letter), `like kafka pypi` or `names like kafka` "
        "(names a few letters away), `check kafkify` or `is kafkify free` (free on PyPI and npm?), `is snorlax`, "
        "`detect kafka` or `lang hej på dig` (what it sounds like), `corpora`, `models`, `top`, `shortlist`, `help`. "
        f"Corpora: {', '.join(corpus_names())}. At most {settings.max_n} names."
    )


def closest(word: str) -> str | None:
    """The command word or corpus ``word`` was most likely meant to be (a typo: `chek`, `pokemn`)."""
    vocabulary = [w.rstrip("=") for w in COMMAND_WORDS] + corpus_names()
    match = difflib.get_close_matches(word.lower(), vocabulary, n=1, cutoff=0.7)
    return match[0] if match and match[0] != word.lower() else None


def _not_understood(text: str, words: list[str], settings: Settings) -> CommandError:
    """A suggestion ("did you mean `check`?") for the first word the grammar does not know, else the usage."""
    known = set(corpus_names()) | {w.rstrip("=") for w in COMMAND_WORDS}
    for word in words:
        if word.lower() not in known and WILDCARD not in word and not is_number(word):
            match = closest(word)
            if match:
                return CommandError(f"I didn't understand `{shown(word)}`: did you mean `{match}`? {usage(settings)}")
    return CommandError(f"I didn't understand `{shown(text)}`. {usage(settings)}")


def strip_slack_markup(text: str) -> tuple[str, bool]:
    """Remove mentions, channel/broadcast tags and links, then decode Slack's three entities;
    report whether any markup was removed."""
    cleaned = SLACK_MARKUP.sub(" ", text)
    removed = cleaned != text
    cleaned = re.sub("&(?:lt|gt|amp);", lambda m: SLACK_ENTITIES[m[0]], cleaned)
    return " ".join(cleaned.split()), removed


def words_to_start_from(text: str, limit: int) -> list[str]:
    """The words of a message that could be names, in order, each once (letters first; markup, emoji
    and punctuation left out), at most ``limit``: what "Names like this" offers to start from."""
    cleaned, _ = strip_slack_markup(text)
    cleaned = re.sub(r":[a-z0-9_+'-]+:", " ", cleaned)  # emoji codes
    words = (found[0].strip(".-")[:MAX_NAME_LEN] for found in re.finditer(r"[^\W\d_][\w.-]*", cleaned))
    firsts = {}
    for word in words:
        if word:
            firsts.setdefault(word.lower(), word)
    return list(firsts.values())[:limit]


def word_to_start_from(text: str) -> str | None:
    """The first word of a message that could be a name."""
    words = words_to_start_from(text, 1)
    return words[0] if words else None


def is_number(word: str) -> bool:
    """Plain ASCII digits: ``str.isdigit`` is also true for ``³`` and ``①``, which ``int`` cannot read."""
    return word.isascii() and word.isdigit()


def number(word: str, settings: Settings) -> int:
    if len(word) > MAX_NUMBER_DIGITS:
        raise CommandError(f"I can make between 1 and {settings.max_n} names at a time.")
    return int(word)


def _refuse_other_digits(word: str) -> None:
    """A word of digits that are not 0-9 (``³``, ``①``, ``٥``): say how to write the number."""
    if word and not is_number(word) and all(ch.isnumeric() for ch in word):
        raise CommandError(f"Please write numbers with the digits 0-9: I can't read `{shown(word)}` as one.")


def parse_command(text: str, settings: Settings | None = None, own: dict[str, str] | None = None) -> Command:
    """The one request ``text`` asks for, or a CommandError that says what would work. ``own``: the
    asker's team corpora ({slug: owner}); naming one sets the request's owner."""
    settings = settings or get_settings()
    if len(text) > MAX_TEXT_LEN:
        raise CommandError(f"That is {len(text):,} characters; I read at most {MAX_TEXT_LEN:,}. {usage(settings)}")
    text, _ = strip_slack_markup(text)
    text = text.rstrip("?").strip()
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help()
    head = words[0].lower()
    if head in {"is", "are"} and len(words) > 2 and words[-1].lower() in AVAILABILITY_WORDS:
        return _request(CheckRequest, names=words[1:-1])
    if head in DETECT_WORDS:
        rest = text.split(None, 1)[1] if len(words) > 1 else ""
        if not rest.strip():
            raise CommandError(f"`{head}` needs a name or some text after it, e.g. `{head} snorlax`.")
        return _request(DetectRequest, text=rest)
    if head in LIST_WORDS and len(words) == 1:
        return ListThings(what=head)
    if head == CORPUS_WORD and len(words) > 1 and words[1].lower() in CORPUS_ACTIONS:
        return _corpus_action([w.lower() for w in words[1:]])
    if head == CHECK_WORD:
        return _request(CheckRequest, names=words[1:])
    if head == LIKE_WORD:
        return _like(words[1:], text, settings, own)
    lowered = [w.lower() for w in words]
    if LIKE_WORD in lowered:  # `names like kafka`, `5 pypi names like kafka`: what comes before is options
        at = lowered.index(LIKE_WORD)
        return _like(words[at + 1 :] + [w for w in words[:at] if w.lower() not in FILLER_WORDS], text, settings, own)
    words = [w for w in words if w.lower() not in FILLER_WORDS] or words
    options, positional = _options(words, settings)
    free = any(w.lower() == FREE_WORD for w in positional)
    positional = [w for w in positional if w.lower() != FREE_WORD]
    model = options.get("model")
    n = number(options["n"], settings) if "n" in options else settings.default_n
    patterns = [w for w in positional if WILDCARD in w]
    others = [w.lower() for w in positional if WILDCARD not in w]
    for word in others:
        _refuse_other_digits(word)
    numbers = [w for w in others if is_number(w)]
    names = [w for w in others if not is_number(w)]
    if numbers:
        n = number(numbers[0], settings)
    if len(names) > 1 or len(patterns) > 1 or len(numbers) > 1:
        raise _not_understood(text, words, settings)
    if patterns:
        corpus = names[0] if names else settings.default_corpus
        return _request(CompleteRequest, own, pattern=patterns[0], corpus=corpus, model=model, n=n, free=free)
    if not names:
        raise CommandError(f"Which corpus? {usage(settings)}")
    if (
        names[0] not in corpus_names()
        and names[0] not in (own or {})
        and (match := closest(names[0]))
        and match not in corpus_names()
    ):
        raise CommandError(f"I didn't understand `{shown(names[0])}`: did you mean `{match}`? {usage(settings)}")
    return _request(GenerateRequest, own, corpus=names[0], model=model, n=n, free=free)


def _like(words: list[str], text: str, settings: Settings, own: dict[str, str] | None = None) -> LikeRequest:
    """`like NAME [corpus] [n] [free] [model=...] [n=...]`: the first word is the name, as typed."""
    options, positional = _options(words, settings)
    if not positional:
        raise CommandError("`like` needs a name to start from, e.g. `like kafka` or `like kafka pypi`.")
    name, rest = positional[0], [w.lower() for w in positional[1:] if w.lower() not in FILLER_WORDS]
    free = FREE_WORD in rest
    rest = [w for w in rest if w != FREE_WORD]
    for word in rest:
        _refuse_other_digits(word)
    numbers = [w for w in rest if is_number(w)]
    corpora = [w for w in rest if not is_number(w)]
    if len(numbers) > 1 or len(corpora) > 1:
        raise CommandError(f"I didn't understand `{shown(text)}`. Try `like kafka pypi 5`.")
    n = number(numbers[0], settings) if numbers else number(options.get("n", str(settings.default_n)), settings)
    corpus = corpora[0] if corpora else settings.default_corpus
    return _request(LikeRequest, own, name=name, corpus=corpus, model=options.get("model"), n=n, free=free)


def _request(kind: type[BaseModel], own: dict[str, str] | None = None, **fields):
    """The request, or its first problem as the user reads the command (an UnknownCorpus, a CommandError...);
    naming one of ``own`` (the asker's team corpora) sets its owner."""
    try:
        request = kind.model_validate(fields, context={OWN_CORPORA: list(own or {})})
    except ValidationError as err:
        raise first_problem(err, READ_ORDER) from None
    if own and getattr(request, "corpus", None) in own:
        request.owner = own[request.corpus]
    return request


def _corpus_action(words: list[str]) -> CorpusAction:
    """`corpus add` (the form), `corpus list`, `corpus rm NAME`."""
    action, rest = words[0], words[1:]
    if action == "rm" and len(rest) != 1:
        raise CommandError("`corpus rm` needs the name of one of your corpora, e.g. `corpus rm norse-gods`.")
    if action != "rm" and rest:
        raise CommandError(f"`corpus {action}` takes nothing more: try `corpus {action}`.")
    return CorpusAction(action=action, name=rest[0] if rest else None)


def _options(words: list[str], settings: Settings) -> tuple[dict[str, str], list[str]]:
    options, positional = {}, []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            positional.append(word)
            continue
        key = key.lower()
        if key == "model":
            options["model"] = value  # the request checks it (UnknownModel, with the list of models)
        elif key == "n" and is_number(value):
            options["n"] = value
        elif key == "n":
            _refuse_other_digits(value)
            raise CommandError(f"`n=` takes a number of names, e.g. `n=8`, not `{shown(value)}`.")
        else:
            raise CommandError(f"I don't know the option `{shown(word)}`: use `model=` or `n=`. {usage(settings)}")
    return options, positional
