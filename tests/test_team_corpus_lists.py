"""A team's uploaded name list: what is read, kept, dropped (and why), and what is refused with what words."""

from __future__ import annotations

import pytest

from core.errors import BadCorpusList
from core.limits import (
    MAX_NAME_LEN,
    TEAM_CORPORA_PER_OWNER,
    TEAM_CORPUS_MAX_BYTES,
    TEAM_CORPUS_MAX_NAMES,
    TEAM_CORPUS_MIN_NAMES,
)
from corpora import corpus_names
from corpora.team import (
    DUPLICATE,
    EMOJI,
    INVISIBLE,
    RESERVED_CHARS,
    TOO_LONG,
    check_names,
    check_room,
    check_slug,
    check_upload,
    dropped_summary,
)

GODS = [
    "odin", "thor", "loki", "freya", "frigg", "baldur", "tyr", "heimdall", "njord", "freyr",
    "idun", "bragi", "skadi", "vidar", "vali", "ullr", "forseti", "hodr", "sif", "hel",
    "mimir", "hermod", "sigyn", "nanna",
]  # fmt: skip


def lines(names, end="\n") -> bytes:
    return end.join(names).encode()


def test_a_plain_list_is_kept_in_order_normalised():
    checked = check_upload(lines(["Odin", " Thor ", "Mr Mime", *GODS[2:]]))
    assert checked.names[:3] == ["odin", "thor", "mr-mime"]
    assert checked.dropped == {} and checked.notes == []
    assert dropped_summary(checked) == "none dropped"


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_utf8_with_or_without_bom_and_any_line_end(prefix, end):
    checked = check_upload(prefix + lines(GODS, end) + end.encode())
    assert checked.names == GODS


def test_a_csv_gives_its_first_column_and_says_so():
    rows = ["name,meaning,source"] + [f"{g},a god,edda" for g in GODS]
    checked = check_upload(lines(rows, "\r\n"))
    assert checked.names == GODS
    assert any("first column" in n for n in checked.notes)
    assert any("header" in n for n in checked.notes)


def test_a_csv_without_header_and_quoted_cells():
    rows = [f'"{g}";"x;y"' for g in GODS]
    checked = check_upload(lines(rows))
    assert checked.names == GODS
    assert not any("header" in n for n in checked.notes)


def test_unusable_names_are_dropped_with_counted_reasons():
    bad = [
        "a" * (MAX_NAME_LEN + 1),
        "thor🔨",
        "lo\u200bki",  # zero-width space
        "od\u202ein",  # bidi override
        "fr\u200deya",  # zero-width joiner
        "nul\x01l",
        "wild*card",
        "odin",  # duplicate
        "ODIN",  # duplicate once normalised
    ]
    checked = check_names([*GODS, *bad])
    assert checked.names == GODS
    assert checked.dropped == {TOO_LONG: 1, EMOJI: 1, INVISIBLE: 4, RESERVED_CHARS: 1, DUPLICATE: 2}
    assert checked.dropped_total == 9
    summary = dropped_summary(checked)
    assert "2 duplicates" in summary and f"1 {TOO_LONG}" in summary and "4 with zero-width" in summary


def test_a_name_of_exactly_the_longest_length_is_kept():
    longest = "b" * MAX_NAME_LEN
    assert longest in check_names([*GODS, longest]).names


def test_accented_and_other_scripts_are_names():
    checked = check_names([*GODS, "Þórr", "Ægir", "Flabébé", "ヨルムンガンド"])
    assert {"þórr", "ægir", "flabébé", "ヨルムンガンド"} <= set(checked.names)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"  \n\r\n \n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("\n".join(GODS).encode("utf-16"), "binary"),  # UTF-16 carries NUL bytes
        ("\n".join([*GODS, "Åsgård"]).encode("latin-1"), "not UTF-8"),
        (lines(GODS[:5]), f"at least {TEAM_CORPUS_MIN_NAMES}"),
        (lines(["odin"] * 500), "duplicates"),
        (b"x" * (TEAM_CORPUS_MAX_BYTES + 1), "MB"),  # one 2 MB line
        (lines([f"n{i}" for i in range(TEAM_CORPUS_MAX_NAMES + 1)]), f"at most {TEAM_CORPUS_MAX_NAMES:,}"),
        (lines(["🔥" * 3] * 30), "emoji"),
    ],
    ids=["empty", "blank", "png", "utf16", "latin1", "few", "all-duplicates", "2mb-line", "too-many", "all-emoji"],
)
def test_bad_uploads_are_refused_in_words(data, words):
    with pytest.raises(BadCorpusList, match=words) as err:
        check_upload(data)
    assert "/" not in str(err.value).replace("DELETE /api", "")  # no server path


def test_a_list_given_as_names_is_bounded_too():
    with pytest.raises(BadCorpusList, match="at most"):
        check_names(["n"] * (TEAM_CORPUS_MAX_NAMES + 1))
    with pytest.raises(BadCorpusList, match="MB"):
        check_names(["x" * 1000] * 3000)


@pytest.mark.parametrize("name", ["norse-gods", "rivers", "a", "team2", "x" * 32])
def test_slugs_are_accepted(name):
    assert check_slug(name.upper(), corpus_names()) == name


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "cannot name"),
        ("norse gods", "cannot name"),
        ("-gods", "cannot name"),
        ("gods-", "cannot name"),
        ("norse--gods", "cannot name"),
        ("x" * 33, "cannot name"),
        ("../etc", "cannot name"),
        ("pokemon", "built-in"),
        ("PyPI", "built-in"),
    ],
)
def test_bad_corpus_names_are_refused(name, words):
    with pytest.raises(BadCorpusList, match=words):
        check_slug(name, corpus_names())


def test_an_owner_keeps_a_bounded_number_of_corpora():
    full = [f"c{i}" for i in range(TEAM_CORPORA_PER_OWNER)]
    check_room(full[:-1], "new")
    check_room(full, "c3")  # replacing one is fine
    with pytest.raises(BadCorpusList, match=f"You have {TEAM_CORPORA_PER_OWNER} corpora"):
        check_room(full, "new")
