import re

import pytest

from core.errors import UnknownCorpus
from corpora import corpus_names, load_corpus, manifest
from corpora.build import SLUG, SOURCES, normalise
from corpora.normalize import slugify


@pytest.mark.parametrize(
    ("raw", "slug"),
    [
        ("Farfetch'd", "farfetchd"),
        ("Mr. Mime", "mr-mime"),
        ("Nidoran♀", "nidoranf"),
        ("Nidoran♂", "nidoranm"),
        ("Flabébé", "flabebe"),
        ("Type: Null", "type-null"),
        ("Porygon-Z", "porygon-z"),
        ("A.I.M.", "aim"),
    ],
)
def test_display_names_become_tokens(raw, slug):
    assert slugify(raw) == slug


def test_manifest_describes_every_committed_corpus():
    assert {"pokemon", "pypi", "npm", "superheroes", "cats", "dogs", "swedish"} <= set(corpus_names())
    for name, meta in manifest().items():
        words = load_corpus(name)
        assert len(words) == meta["count"] == len(set(words)), name
        assert meta["source"] and meta["license"] and meta["normalisation"]
        assert all(re.fullmatch(r"[a-z0-9åäö._-]{1,32}", w) for w in words), name


def test_pokemon_is_the_full_national_dex():
    words = load_corpus("pokemon")
    assert len(words) == 1025 and {"pikachu", "snorlax", "mr-mime", "flabebe"} <= set(words)


def test_normalise_drops_duplicates_and_overlong_names():
    pokemon = next(s for s in SOURCES if s.name == "pokemon")
    assert pokemon.normalisation == SLUG
    assert normalise(pokemon, ["Mew", "MEW", "x" * 33, "", "Ho-Oh"]) == ["mew", "ho-oh"]


def test_unknown_corpus_is_a_friendly_error():
    with pytest.raises(UnknownCorpus, match="I don't know a corpus called 'pokemonz'"):
        load_corpus("pokemonz")
