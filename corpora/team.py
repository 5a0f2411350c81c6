"""A team's own name list, checked before anything is kept: bytes (a file, a paste) or a list of names in,
the normalised distinct names out with what was dropped and why, or a ``BadCorpusList`` saying what
would work. Pure: no Redis, no model, so every surface (API, CLI, Slack) checks an upload the same way
before a job is queued.

Why each rule: a name model learns every character it is given, so an emoji, a zero-width joiner or a
bidirectional control in one name would come back inside generated names (and a bidi control can make
a shown name read differently from what it is); names longer than the models' support
(``MAX_NAME_LEN``) could never be made; duplicates would only weigh a name twice.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from core.errors import BadCorpusList, shown
from core.limits import (
    MAX_NAME_LEN,
    TEAM_CORPORA_PER_OWNER,
    TEAM_CORPUS_MAX_BYTES,
    TEAM_CORPUS_MAX_NAMES,
    TEAM_CORPUS_MIN_NAMES,
    TEAM_CORPUS_SLUG_LEN,
)
from core.pattern import WILDCARD

SLUG = re.compile(rf"^[a-z0-9](?:-?[a-z0-9]){{0,{TEAM_CORPUS_SLUG_LEN - 1}}}$")
# a CSV's first cell that names its column rather than holding a name
HEADER_WORDS = {"name", "names", "word", "words", "title", "label", "value", "service", "project", "package", "id"}
RESERVED = {WILDCARD, "^"}  # a pattern's unknown letter; the models' start marker
BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
# Why a name was dropped, as the report says it
TOO_LONG = f"longer than {MAX_NAME_LEN} characters"
EMOJI = "emoji or pictographs"
INVISIBLE = "zero-width, bidirectional or control characters"
RESERVED_CHARS = f"the reserved characters {' or '.join(sorted(RESERVED))}"
DUPLICATE = "duplicates"


@dataclass(frozen=True)
class CheckedList:
    """The names a corpus is trained on, in upload order, and what the upload's report says."""

    names: list[str]
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> names dropped for it
    notes: list[str] = field(default_factory=list)  # how the upload was read (a CSV's first column...)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def check_slug(name: str, builtin: list[str]) -> str:
    """A corpus name: a slug (lowercase letters, digits, single inner hyphens) that no built-in corpus has."""
    slug = (name or "").strip().lower()
    if not SLUG.match(slug):
        raise BadCorpusList(
            f"'{shown(name or '')}' cannot name a corpus: use up to {TEAM_CORPUS_SLUG_LEN} lowercase letters, "
            "digits and single hyphens, starting and ending with a letter or digit, e.g. norse-gods."
        )
    if slug in builtin:
        raise BadCorpusList(f"'{slug}' is a built-in corpus: choose another name for yours, e.g. our-{slug}.")
    return slug


def check_room(existing: list[str], slug: str) -> None:
    """One owner keeps at most TEAM_CORPORA_PER_OWNER corpora; replacing one of them is always allowed."""
    if slug not in existing and len(existing) >= TEAM_CORPORA_PER_OWNER:
        raise BadCorpusList(
            f"You have {len(existing)} corpora, the most one team may keep: remove one first "
            f"(DELETE /api/v1/corpora/NAME, `tnaas corpus rm NAME`)."
        )


def read_upload(data: bytes) -> tuple[list[str], list[str]]:
    """An uploaded file's lines (UTF-8 with or without a BOM, any line ends; a CSV: its first column,
    without its header) and notes on how it was read. Refuses what is not a text file of names."""
    if len(data) > TEAM_CORPUS_MAX_BYTES:
        raise BadCorpusList(
            f"That file is {len(data) / 1_048_576:.1f} MB; a name list may be at most "
            f"{TEAM_CORPUS_MAX_BYTES // 1_048_576} MB ({TEAM_CORPUS_MAX_NAMES:,} names)."
        )
    if not data.strip():
        raise BadCorpusList(f"That file is empty: send one name per line, at least {TEAM_CORPUS_MIN_NAMES}.")
    if b"\x00" in data:
        raise BadCorpusList("That looks like a binary file, not a text list of names: send one name per line.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadCorpusList(
            "That file is not UTF-8 text: save it as UTF-8 (any spreadsheet or editor can), one name per line."
        ) from None
    return split_lines(text)


def split_lines(text: str) -> tuple[list[str], list[str]]:
    """Lines of a paste or file; a CSV (commas, semicolons or tabs on most lines) gives its first column."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    delimiter = next((d for d in ",;\t" if lines and sum(d in line for line in lines) * 2 > len(lines)), None)
    if delimiter is None:
        return lines, []
    rows = [row for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter) if row]
    notes = [f"read as a table ({_DELIMITERS[delimiter]}): its first column is the names, the others are ignored"]
    if rows and rows[0][0].strip().lower() in HEADER_WORDS:
        notes.append(f"its first row ('{shown(rows[0][0])}') is a header, not a name")
        rows = rows[1:]
    return [row[0] for row in rows], notes


_DELIMITERS = {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated"}


def why_dropped(name: str) -> str | None:
    """The reason a (normalised) name cannot be learnt, or None."""
    if any(ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in name):
        return INVISIBLE
    if any(_pictograph(ch) for ch in name):
        return EMOJI
    if any(ch in RESERVED for ch in name):
        return RESERVED_CHARS
    if len(name) > MAX_NAME_LEN:
        return TOO_LONG
    return None


def _pictograph(ch: str) -> bool:
    code = ord(ch)
    return (
        unicodedata.category(ch) == "So"
        or 0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (an emoji's presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
    )


def normalise(name: str) -> str:
    """NFC, lowercase, surrounding space dropped, inner runs of spaces one hyphen ("Mr Mime" -> "mr-mime")."""
    return re.sub(r"\s+", "-", unicodedata.normalize("NFC", name).strip().lower())


def check_names(raw: list[str], notes: list[str] | None = None) -> CheckedList:
    """Normalise and de-duplicate ``raw`` (lines or an API's list), dropping names that cannot be
    learnt with a count per reason; refuse a list that is too short, too long or all duplicates."""
    if len(raw) > TEAM_CORPUS_MAX_NAMES:
        raise BadCorpusList(
            f"That list has {len(raw):,} names; a corpus may have at most {TEAM_CORPUS_MAX_NAMES:,}: "
            "keep the ones most like what you want."
        )
    if sum(len(name.encode("utf-8", "replace")) + 1 for name in raw) > TEAM_CORPUS_MAX_BYTES:
        raise BadCorpusList(
            f"That list is over {TEAM_CORPUS_MAX_BYTES // 1_048_576} MB: a corpus may hold at most that."
        )
    dropped: Counter = Counter()
    kept: dict[str, None] = {}
    for line in raw:
        name = normalise(line)
        if not name:
            continue
        if (reason := why_dropped(name)) is not None:
            dropped[reason] += 1
        elif name in kept:
            dropped[DUPLICATE] += 1
        else:
            kept[name] = None
    names = list(kept)
    if not names and not dropped:
        raise BadCorpusList(f"That list is empty: send one name per line, at least {TEAM_CORPUS_MIN_NAMES}.")
    if len(names) < TEAM_CORPUS_MIN_NAMES:
        why = _summary(dropped)
        raise BadCorpusList(
            f"That list has {len(names)} distinct usable name{'' if len(names) == 1 else 's'}"
            + (f" ({why})" if why else "")
            + f"; a corpus needs at least {TEAM_CORPUS_MIN_NAMES}."
        )
    return CheckedList(names, dict(dropped), list(notes or []))


def check_upload(data: bytes) -> CheckedList:
    """A file's bytes, read (``read_upload``) and checked (``check_names``)."""
    lines, notes = read_upload(data)
    return check_names(lines, notes)


def _summary(dropped: Counter | dict) -> str:
    """``"3 duplicates, 1 longer than 32 characters dropped"``."""
    parts = [
        f"{count} {reason}" if reason in (DUPLICATE, TOO_LONG) else f"{count} with {reason}"
        for reason, count in dropped.items()
    ]
    return (", ".join(parts) + " dropped") if parts else ""


def dropped_summary(checked: CheckedList) -> str:
    """What a report says of the names dropped, or "none dropped"."""
    return _summary(checked.dropped) or "none dropped"
