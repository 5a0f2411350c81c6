"""A TF-IDF vectorizer whose vocabulary is two arrays, not a dict: loaded, it is mapped, not rebuilt.

scikit-learn's ``TfidfVectorizer`` keeps its vocabulary as a dict of n-gram strings. Unpickled, that
dict is tens of thousands of Python objects private to every process that loads the model (the corpus
judge's 69,000 n-grams: ~8 MB per worker), which no memory mapping can share. ``ArrayTfidfVectorizer``
learns exactly what ``TfidfVectorizer`` learns and stores the vocabulary as its n-grams, sorted, in one
array (``models.strings.NameSet``) and their columns in another; ``transform`` looks a batch's n-grams
up with one binary search and gives the same matrix, entry for entry.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from models.strings import NameSet


class ArrayTfidfVectorizer(TfidfVectorizer):
    """``TfidfVectorizer`` with ``vocabulary_`` held as ``terms_`` (sorted n-grams) and ``columns_``."""

    @property
    def vocabulary_(self) -> dict[str, int]:
        """The dict scikit-learn's own methods expect (built on each call: only rare methods ask)."""
        return dict(zip(self.terms_, self.columns_.tolist()))

    @vocabulary_.setter
    def vocabulary_(self, vocabulary: dict[str, int]) -> None:
        self.terms_ = NameSet.of(vocabulary)
        self.columns_ = np.array([vocabulary[term] for term in self.terms_], dtype=np.int32)

    def transform(self, raw_documents) -> sparse.csr_matrix:
        """TF-IDF of each document, as ``TfidfVectorizer.transform`` computes it."""
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        if isinstance(raw_documents, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        analyze = self.build_analyzer()
        grams = [analyze(doc) for doc in raw_documents]
        at = self.terms_.index([g for doc in grams for g in doc])
        rows = np.repeat(np.arange(len(grams)), [len(doc) for doc in grams])[at >= 0]
        counts = sparse.csr_matrix(
            (np.ones(len(rows), dtype=self.dtype), (rows, self.columns_[at[at >= 0]])),
            shape=(len(grams), len(self.columns_)),
            dtype=self.dtype,
        )
        counts.sum_duplicates()
        if self.binary:
            counts.data.fill(1)
        return self._tfidf.transform(counts, copy=False)
