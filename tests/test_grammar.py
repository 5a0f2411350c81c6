"""The command grammar of /techname and @mentions: text to one typed request, or a friendly error."""

import pytest

from bot.slack.grammar import (
    COMMAND_WORDS,
    CommandError,
    Help,
    ListThings,
    parse_command,
    strip_slack_markup,
    usage,
    word_to_start_from,
)
from core.errors import UnknownCorpus, UnknownModel
from core.model_names import in_words
from jobs.contracts import CheckRequest, CompleteRequest, DetectRequest, GenerateRequest, LikeRequest


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
        ("is kafka free", CheckRequest(names=["kafka"])),
        ("is kafka free?", CheckRequest(names=["kafka"])),
        ("Is Kafkify available", CheckRequest(names=["Kafkify"])),
        ("are kafka pykafka taken", CheckRequest(names=["kafka", "pykafka"])),
        ("check kafka", CheckRequest(names=["kafka"])),
        ("like kafka", LikeRequest(name="kafka", corpus="pypi", n=5)),
        ("names like kafka", LikeRequest(name="kafka", corpus="pypi", n=5)),
        ("5 npm names like kafka", LikeRequest(name="kafka", corpus="npm", n=5)),
        ("like kafka names", LikeRequest(name="kafka", corpus="pypi", n=5)),
        ("5 pokemon names", GenerateRequest(corpus="pokemon", n=5)),
        ("3 cats names free", GenerateRequest(corpus="cats", n=3, free=True)),
        ("pokemon name", GenerateRequest(corpus="pokemon", n=5)),
        ("is snorlax?", DetectRequest(text="snorlax")),
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
        ("chek kafka", CommandError, "did you mean `check`"),
        ("lke kafka", CommandError, "did you mean `like`"),
        ("hlep", CommandError, "did you mean `help`"),
        ("corpra", CommandError, "did you mean `corpora`"),
        ("pokemon modles", CommandError, "did you mean `models`"),
        ("is", CommandError, "needs a name or some text"),
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


@pytest.mark.parametrize(
    "text", ["pokemon ³", "dogs n=①", "pokemon ٥", "cats n=²", "pokemon ①②", "like kafka pypi ³", "like kafka n=①"]
)
def test_digits_other_than_0_to_9_are_refused_clearly(text):
    """`str.isdigit` is true for these and `int` fails on them: that was an HTTP 500."""
    with pytest.raises(CommandError, match="digits 0-9"):
        parse_command(text)


def test_huge_numbers_are_refused_without_echoing_them():
    with pytest.raises(CommandError, match="between 1 and 20") as err:
        parse_command("pokemon " + "9" * 1500)
    assert len(str(err.value)) < 100


@pytest.mark.parametrize(
    ("text", "model"),
    [("pokemon model=kn05", "kn5"), ("pokemon model=KN3", "kn3"), ("pokemon model=markov002", "markov2")],
)
def test_model_names_are_canonical(text, model):
    assert parse_command(text).model == model


@pytest.mark.parametrize("model", ["kn٥", "kn５", "kn5.0", "kn-5", "kn"])
def test_model_names_with_other_digits_are_refused(model):
    with pytest.raises(UnknownModel, match="Try one of"):
        parse_command(f"pokemon model={model}")


@pytest.mark.parametrize(
    "markup",
    [
        "<ftp://evil.example/x|click>",
        "<tel:+15551234|call me>",
        "<mailto:a@b.example|mail>",
        "<!date^1392734382^{date}|Feb 18>",
        "<slack://open|open>",
        "<@W024BE7LH>",
    ],
)
def test_every_slack_link_and_mention_form_is_removed(markup):
    text, removed = strip_slack_markup(f"{markup} pokemon {markup}")
    assert text == "pokemon" and removed
    with pytest.raises(CommandError) as err:
        parse_command(f"{markup} blah{markup}=1")
    assert "<" not in str(err.value) and "evil" not in str(err.value) and "tel:" not in str(err.value)


def test_slack_entities_are_decoded_so_the_text_is_what_the_user_typed():
    """Slack sends a typed `<` as `&lt;`: decoding it here is what keeps it from being posted as `&amp;lt;`."""
    assert parse_command("is a &lt;b&gt; &amp;lt; c") == DetectRequest(text="a <b> &lt; c")
    assert strip_slack_markup("&amp;amp;") == ("&amp;", False)


def test_echoed_names_carry_no_backticks_or_line_breaks():
    with pytest.raises(UnknownCorpus) as err:
        parse_command("poke`mon")
    assert "`" not in str(err.value)


def test_the_usage_hint_lists_every_command():
    hint = usage()
    missing = [w for w in COMMAND_WORDS if f"`{w}" not in hint and f" {w}" not in hint]
    assert not missing, missing
    for example in ("`like kafka pypi`", "`check kafkify`", "`is kafkify free`", "`pypi 5 free`", "`help`"):
        assert example in hint


def test_an_unknown_word_far_from_any_command_gets_the_usage_not_a_guess():
    with pytest.raises(CommandError) as err:
        parse_command("zzqx pokemon")
    assert "did you mean" not in str(err.value) and "Try `pokemon`" in str(err.value)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("kn3", "Kneser-Ney, 3 letters of context"),
        ("KN05", "Kneser-Ney, 5 letters of context"),
        ("markov2", "Markov chain, 2 letters of context"),
        ("bayes1", "Bayesian network, 1 letter of context"),
        ("gpt5", "gpt5"),
    ],
)
def test_a_model_is_named_in_words_without_our_spelling(model, words):
    assert in_words(model) == words


@pytest.mark.parametrize(
    ("message", "word"),
    [
        ("<@U2> Kafka, is our queue", "Kafka"),
        (":tada: 123 shipped it", "shipped"),
        ("<!here> <https://x.example|link>", None),
        ("... 42 !!", None),
        ("x" * 50, "x" * 32),
    ],
)
def test_names_like_this_starts_from_the_first_word_that_could_be_a_name(message, word):
    assert word_to_start_from(message) == word
