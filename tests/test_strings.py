"""Names held in arrays: the same answers as a list and a set of Python strings."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from models.strings import NameSet, PackedNames

names = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12))


@given(names)
def test_packed_names_are_the_list_they_were_made_of(words):
    packed = PackedNames.of(words)
    assert len(packed) == len(words) and list(packed) == words and packed == words
    assert [packed[i] for i in range(-len(words), len(words))] == words + words
    assert packed[1:3] == words[1:3]
    again = PackedNames.from_arrays(packed.to_arrays("n"), "n")
    assert again.tolist() == words


@given(names, names)
def test_a_name_set_answers_as_a_set(words, probes):
    known = NameSet.of(words)
    assert set(known) == set(words) and len(known) == len(set(words))
    assert known.mask(probes).tolist() == [p in set(words) for p in probes]
    assert all((p in known) == (p in set(words)) for p in probes)
    assert set(probes) & known == set(probes) & set(words)
    at = known.index(probes)
    assert all(a == -1 or known.keys[a].decode() == p for a, p in zip(at.tolist(), probes))


def test_a_name_longer_than_every_known_one_is_not_mistaken_for_its_prefix():
    known = NameSet.of(["pika", "chu"])
    assert known.mask(["pikachu", "pika", "chu", "", "pik"]).tolist() == [False, True, True, False, False]
    assert NameSet.of([]).mask(["a"]).tolist() == [False] and len(NameSet.of([])) == 0
    assert known.keys.dtype == np.dtype("S4")


def test_the_array_vocabulary_vectorizer_gives_tfidfvectorizers_matrix_entry_for_entry():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from corpora import load_corpus
    from models.vectorizers import ArrayTfidfVectorizer

    train = load_corpus("pokemon") + load_corpus("cats")
    probes = load_corpus("dogs") + ["", "ünïcödé", "x" * 40, "mr. mime", "zzz"]
    options = {"analyzer": "char_wb", "ngram_range": (1, 4), "sublinear_tf": True, "dtype": np.float32}
    ours, theirs = ArrayTfidfVectorizer(**options).fit(train), TfidfVectorizer(**options).fit(train)
    assert ours.vocabulary_ == theirs.vocabulary_ and "vocabulary_" not in vars(ours)  # arrays, not a dict
    a, b = ours.transform(probes), theirs.transform(probes)
    assert a.shape == b.shape and (a != b).nnz == 0
    assert (ours.fit_transform(train) != theirs.fit_transform(train)).nnz == 0
