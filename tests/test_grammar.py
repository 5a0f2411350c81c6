"""The command grammar of /techname and @mentions: text to one typed request, or a friendly error."""

import pytest

from bot.grammar import CommandError, Help, ListThings, parse_command, strip_slack_markup
from jobs.contracts import CompleteRequest, DetectRequest, GenerateRequest
from tnaas.errors import UnknownCorpus, UnknownModel


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("help", Help()),
        ("  HELP  ", Help()),
        ("corpora", ListThings(what="corpora")),
        ("models", ListThings(what="models")),
        ("top", ListThings(what="top")),
        ("pokemon", GenerateRequest(corpus="pokemon", n=5)),
        ("pypi 10", GenerateRequest(corpus="pypi", n=10)),
        ("npm model=markov2 n=8", GenerateRequest(corpus="npm", model="markov2", n=8)),
        ("Pokemon MODEL=KN3", GenerateRequest(corpus="pokemon", model="kn3", n=5)),
        ("*u*a pokemon", CompleteRequest(pattern="*u*a", corpus="pokemon", n=5)),
        ("mo*** pypi", CompleteRequest(pattern="mo***", corpus="pypi", n=5)),
        ("***ly", CompleteRequest(pattern="***ly", corpus="pypi", n=5)),
        ("pokemon *U*A 3", CompleteRequest(pattern="*u*a", corpus="pokemon", n=3)),
        ("is snorlax", DetectRequest(text="snorlax")),
        ("detect kafka", DetectRequest(text="kafka")),
        ("lang Det här är svenska", DetectRequest(text="Det här är svenska")),
        ("<@U123ABC> pokemon 3", GenerateRequest(corpus="pokemon", n=3)),
    ],
)
def test_the_grammar(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "error", "says"),
    [
        ("pokemn", UnknownCorpus, "Try one of: pokemon"),
        ("pokemon model=gpt5", UnknownModel, "I don't know a model called 'gpt5'"),
        ("pokemon 50", CommandError, "between 1 and 20"),
        ("pokemon n=0", CommandError, "between 1 and 20"),
        ("pokemon colour=blue", CommandError, "option `colour=blue`"),
        ("pokemon pypi", CommandError, "didn't understand"),
        ("*a* *b*", CommandError, "didn't understand"),
        ("12", CommandError, "Which corpus?"),
        ("is", CommandError, "needs a name or some text"),
        ("x" * 2001, CommandError, "at most 2,000"),
        ("*" * 33 + " pokemon", CommandError, "at most 32"),
    ],
)
def test_bad_input_says_what_would_work(text, error, says):
    with pytest.raises(error, match=says):
        parse_command(text)


@pytest.mark.parametrize(
    "markup",
    [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U024BE7LH>",
        "<#C024BE7LR|general>",
        "<!subteam^SAZ94GDB8|@team>",
        "<https://evil.example|click>",
    ],
)
def test_slack_markup_is_removed_and_never_echoed(markup):
    text, removed = strip_slack_markup(f"{markup} pokemon {markup}")
    assert text == "pokemon" and removed
    with pytest.raises(CommandError) as err:
        parse_command(f"{markup} blah=1")
    assert "<" not in str(err.value) and "!channel" not in str(err.value)


def test_errors_never_echo_backticks_or_long_text():
    with pytest.raises(CommandError) as err:
        parse_command("pokemon `rm -rf`=" + "y" * 300)
    assert "`rm" not in str(err.value) and len(str(err.value)) < 600
