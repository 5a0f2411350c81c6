"""Which natural language does a text look like? The script first, then character n-grams.

1. The script, by whole Unicode blocks: a language is possible only if its training text uses the
   text's main script (any kana means Japanese). Hangul, kana, Hebrew, Devanagari... belong to one of
   our languages each, so they decide alone; Han is Chinese or Japanese, Cyrillic one of five, etc.
   Then the letters: a letter only some languages write (Ukrainian ї, Serbian ђ, German ß, a Han
   character simplified Chinese never uses) narrows the candidates to those languages.
2. Among the possible languages, multinomial naive Bayes over character 1-5-gram counts (within word
   boundaries, hashed: no vocabulary to hold), trained on frequency-weighted word lists (a frequent
   word counts more) and the UDHR: a linear model in log space that trains in seconds and predicts
   thousands of texts a second. Within groups of look-alike languages (ms/id, da/no/sv...) the words'
   own frequencies add their log-ratio, since shared n-grams cannot tell "kerana" from "karena".
3. Naive Bayes is far too sure of itself on long texts and not sure enough on one short word, so a
   temperature per input length, fitted on held-out text, calibrates it; below ``unknown_below``
   the answer is "unknown" rather than a confident wrong guess.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.utils import murmurhash3_32

from core.languages import UNKNOWN
from models.strings import NameSet
from models.text import TOKEN, clean_text, letter_scripts, main_script, script_of, sentences

LANGUAGES_DIR = Path(__file__).resolve().parents[1] / "corpora" / "languages"
CALIBRATION_ARTICLES = (19, 20)  # fit the temperatures only
TEST_FROM_ARTICLE = 21  # UDHR articles 21-30 are never trained or calibrated on
LENGTH_EDGES = (4, 8, 16, 32, 64)  # letters: one calibration temperature per length band
MIN_SCRIPT_SHARE = 0.02  # a language "uses" a script when this share of its training letters are in it
# Weights in half precision: ~0.01 nats of rounding per n-gram, far below what decides a language,
# for half the memory (the weights are most of the detector).
WEIGHT_DTYPE = np.float16
HASH_BITS = 24  # n-gram hash buckets: 16.8M, so the ~600k n-grams kept rarely share one
# Look-alike languages that n-grams mix up: their word frequencies decide between them.
CONFUSABLE = (
    ("ms", "id"),
    ("da", "no", "sv"),
    ("cs", "sk"),
    ("es", "pt", "ca"),
    ("hr", "sr", "sl"),
    ("bg", "ru", "sr", "uk"),
)
WORD_EVIDENCE = 1.0  # weight of the word-frequency log-ratio beside the n-gram log-likelihood
# A language "writes" a letter when its training text has it this often (loanwords aside)
MIN_LETTER_COUNT = 3
MIN_LETTER_SHARE = 2e-5


@dataclass
class LanguageData:
    """Training texts and held-out evaluation sets, built from corpora/languages/."""

    X: list[str] = field(default_factory=list)
    y: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    calibration: list[tuple[str, str]] = field(default_factory=list)
    frequencies: dict[str, dict[str, float]] = field(default_factory=dict)  # lang -> training word -> Zipf
    held_out: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def load_language_data(directory: Path = LANGUAGES_DIR, per_set: int = 200, seed: int = 0) -> LanguageData:
    """Split corpora/languages/ three ways, by word-list position and by UDHR article.

    Train: 80% of each word list, each word weighted by its frequency (``word_weight``), and UDHR
    articles 0-18 (as sentences, word pairs and words, weight 1). Calibration: another 10% of the word
    list (a quarter as many as running text: users type running text more than rare words) and articles 19-20. Held out for evaluation: the last 10% of the word list ("vocabulary"),
    and words, word pairs and sentences from articles 21-30. (The independent benchmark, from another
    source, is bench/language_detection.py.)
    """
    data = LanguageData(held_out={"words": [], "pairs": [], "sentences": [], "vocabulary": []})
    rng = random.Random(seed)
    languages = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    lists = {lang: _word_list(directory, lang) for lang in languages}
    for lang in languages:
        rows = lists[lang]
        words = [r[0] for r in rows]
        weights = word_weights([r[1] for r in rows])
        train = [i for i in range(len(words)) if i % 10 not in (0, 5)]
        data.X += [words[i] for i in train]
        data.weights += [weights[i] for i in train]
        data.frequencies[lang] = {words[i]: float(rows[i][1]) for i in train if rows[i][1]}
        data.calibration += [(w, lang) for w in rng.sample(words[5::10], min(per_set // 4, len(words[5::10])))]
        data.held_out["vocabulary"] += [(w, lang) for w in rng.sample(words[::10], min(per_set, len(words[::10])))]
        paragraphs = [
            (int(n), p)
            for n, p in (
                line.split("\t", 1)
                for line in (directory / f"{lang}.udhr.txt").read_text(encoding="utf-8").splitlines()
            )
        ]
        for n, p in paragraphs:
            if n < CALIBRATION_ARTICLES[0]:
                data.X += _views(p)
        data.weights += [1.0] * (len(data.X) - len(data.weights))
        data.y += [lang] * (len(data.X) - len(data.y))
        data.calibration += [(v, lang) for n, p in paragraphs if n in CALIBRATION_ARTICLES for v in _views(p)]
        test = [p for n, p in paragraphs if n >= TEST_FROM_ARTICLE]
        tokens = [t for p in test for t in TOKEN.findall(p)]
        pairs = [" ".join(tokens[i : i + 2]) for i in range(0, len(tokens) - 1, 2)]
        data.held_out["words"] += [(w, lang) for w in rng.sample(tokens, min(per_set, len(tokens)))]
        data.held_out["pairs"] += [(p, lang) for p in rng.sample(pairs, min(per_set, len(pairs)))]
        data.held_out["sentences"] += [(s, lang) for p in test for s in sentences(p)]
    return data


def _word_list(directory: Path, lang: str) -> list[tuple[str, str]]:
    """(word, Zipf frequency or "") rows of ``<lang>.words.txt``."""
    rows = (line.split("\t") for line in (directory / f"{lang}.words.txt").read_text(encoding="utf-8").splitlines())
    return [(r[0], r[1] if len(r) > 1 else "") for r in rows]


def word_weights(zipfs: list[str]) -> list[float]:
    """Training weight of each word: 1 + its Zipf frequency above the list's rarest word, so "the"
    (Zipf 7.7) counts ~5x a word at the list's end (~3.5); lists without frequencies weigh 1 each."""
    known = [float(z) for z in zipfs if z]
    floor = min(known, default=0.0)
    return [1.0 + float(z) - floor if z else 1.0 for z in zipfs]


def _views(paragraph: str) -> list[str]:
    """A paragraph as the kinds of input users send: sentences, word pairs and single words."""
    tokens = TOKEN.findall(paragraph)
    return sentences(paragraph) + [" ".join(tokens[i : i + 2]) for i in range(0, len(tokens) - 1, 2)] + tokens


def _buckets(hashes: np.ndarray, n_features: int) -> np.ndarray:
    """The columns scikit-learn's FeatureHasher gives signed 32-bit MurmurHash3 values (int64 here,
    so abs(-2**31) does not overflow; FeatureHasher's int32 arithmetic wraps it, reproduced by hand)."""
    return np.where(hashes == -2147483648, (2147483647 - (n_features - 1)) % n_features, np.abs(hashes) % n_features)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax (scipy's costs ~60 µs of overhead per call, more than the model)."""
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class LanguageDetector:
    """``fit(texts, languages)``; ``predict_proba`` calibrated; ``predict`` may answer ``"unknown"``."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 5),
        alpha: float = 0.001,
        unknown_below: float = 0.5,
        max_features: int = 600_000,
    ):
        self.ngram_range = ngram_range
        self.alpha = alpha
        self.unknown_below = unknown_below
        self.max_features = max_features

    def fit(
        self,
        X: list[str],
        y: list[str],
        calibration: list[tuple[str, str]] | None = None,
        sample_weight: list[float] | None = None,
        frequencies: dict[str, dict[str, float]] | None = None,
    ) -> LanguageDetector:
        cleaned = [clean_text(x).text for x in X]
        # Hashed n-grams: no vocabulary dict to load or hold (it cost more memory than the weights),
        # only the sorted ids of the buckets kept. n-grams seen in one text only are dropped, then all
        # but the ``max_features`` most frequent.
        self.vectorizer_ = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            n_features=2**HASH_BITS,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        counts = self.vectorizer_.transform(cleaned).tocsc()
        df, total = np.diff(counts.indptr), np.asarray(counts.sum(axis=0)).ravel()
        kept = np.flatnonzero(df >= 2)
        kept = np.sort(kept[np.argsort(-total[kept], kind="stable")[: self.max_features]])
        bayes = MultinomialNB(alpha=self.alpha).fit(counts[:, kept].tocsr(), y, sample_weight=sample_weight)
        # Keep only what prediction needs, laid out for it: naive Bayes is linear in the n-gram counts.
        self.features_ = kept.astype(np.int32)
        self.weights_ = np.ascontiguousarray(bayes.feature_log_prob_.T, dtype=WEIGHT_DTYPE)
        self.bias_ = bayes.class_log_prior_.astype(np.float32)
        self.classes_ = bayes.classes_
        self.scripts_ = self._learn_scripts(cleaned, y)
        self.letters_, self.letter_masks_ = self._learn_letters(cleaned, y)
        self.groups_ = [self._word_model(group, frequencies or {}) for group in CONFUSABLE]
        self.groups_ = [g for g in self.groups_ if g is not None]
        self._merged = None
        if self.groups_:
            self._merged_word_models()  # now, so that a saved detector carries it and a loaded one maps it
        self.temperatures_ = np.ones(len(LENGTH_EDGES) + 1)
        if calibration:
            self.temperatures_ = self._fit_temperatures(*zip(*calibration))
        return self

    def _learn_scripts(self, texts: list[str], y: list[str]) -> dict[str, np.ndarray]:
        """script -> which languages use it (a boolean mask over ``classes_``)."""
        per_lang: dict[str, dict] = {lang: {} for lang in self.classes_}
        for text, lang in zip(texts, y):
            for script, n in letter_scripts(text).items():
                per_lang[lang][script] = per_lang[lang].get(script, 0) + n
        masks: dict[str, np.ndarray] = {}
        for i, lang in enumerate(self.classes_):
            total = sum(per_lang[lang].values()) or 1
            for script, n in per_lang[lang].items():
                if n / total >= MIN_SCRIPT_SHARE:
                    masks.setdefault(script, np.zeros(len(self.classes_), dtype=bool))[i] = True
        if "Kana" in masks and "Han" in masks:  # kana decide Japanese; Han alone is Chinese or Japanese
            masks["Han"] |= masks["Kana"]
        return masks

    def _learn_letters(self, texts: list[str], y: list[str]) -> tuple[NameSet, np.ndarray]:
        """Letters some languages never write (ї, ђ, ß, ő, ł...) and, row for row, which languages write
        each (a boolean mask over ``classes_``): arrays, which a loaded detector maps, rather than a dict
        of thousands of small arrays (Han characters), which it would rebuild."""
        index = {lang: i for i, lang in enumerate(self.classes_)}
        counts: dict[str, np.ndarray] = {}
        for text, lang in zip(texts, y):
            for ch, n in Counter(ch for ch in text if ch.isalpha()).items():
                counts.setdefault(ch, np.zeros(len(self.classes_)))[index[lang]] += n
        totals = np.sum(list(counts.values()), axis=0)
        masks = {}
        for ch, n in counts.items():
            writes = n >= np.maximum(MIN_LETTER_COUNT, MIN_LETTER_SHARE * totals)
            if writes.any() and not writes[self.scripts_.get(script_of(ch), writes)].all():
                masks[ch] = writes
        letters = NameSet.of(masks)
        return letters, np.array([masks[ch] for ch in letters], dtype=bool).reshape(len(letters), len(self.classes_))

    def _word_model(self, group: tuple[str, ...], frequencies: dict[str, dict[str, float]]):
        """(language indices, sorted word hashes, log P(word | language) per hash) over a group of
        look-alike languages' frequency lists; a word missing from one list gets a quarter of that
        list's rarest. Hashes rather than a dict of words: a tenth of the memory."""
        langs = [lang for lang in group if frequencies.get(lang) and lang in self.classes_]
        if len(langs) < 2:
            return None
        words = sorted(set().union(*(frequencies[lang] for lang in langs)), key=murmurhash3_32)
        keys = np.array([murmurhash3_32(w) for w in words], dtype=np.int32)
        table = np.empty((len(words), len(langs)), dtype=np.float32)
        for j, lang in enumerate(langs):
            freq = {w: 10.0**z for w, z in frequencies[lang].items()}
            total, floor = sum(freq.values()), min(freq.values()) / 4
            table[:, j] = np.log(np.array([freq.get(w, floor) for w in words]) / total)
        return np.searchsorted(self.classes_, langs), keys, table

    def _word_evidence(self, cleaned: list[str], jll: np.ndarray) -> None:
        """Within each group of look-alike languages, add how much likelier the text's known words are
        under each one's word frequencies than under the group's likeliest (0 for that one): "kerana"
        is Malay and "karena" Indonesian, which their shared n-grams cannot tell."""
        if not self.groups_:
            return
        keys, table, groups = self._merged_word_models()
        for i, text in enumerate(cleaned):
            hashes = np.fromiter(map(murmurhash3_32, text.split()), dtype=np.int32)
            rows = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
            found = rows[keys[rows] == hashes]
            if len(found):
                evidence = table[found].sum(axis=0, dtype=np.float64)
                for langs, columns in groups:  # a group none of whose words occur adds 0
                    jll[i, langs] += WORD_EVIDENCE * (evidence[columns] - evidence[columns].max())

    def _merged_word_models(self) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, slice]]]:
        """Every group's word table side by side over the union of their hashes (0 where a group does
        not know a word), so a text's words are looked up once rather than once per group. Built by
        ``fit`` from ``groups_`` and kept."""
        if getattr(self, "_merged", None) is None:
            keys = np.unique(np.concatenate([k for _, k, _ in self.groups_]))
            table = np.zeros((len(keys), sum(t.shape[1] for _, _, t in self.groups_)), dtype=np.float32)
            groups, start = [], 0
            for langs, group_keys, group_table in self.groups_:
                unique, first = np.unique(group_keys, return_index=True)  # a shared hash: the first word's row
                columns = slice(start, start + group_table.shape[1])
                table[np.searchsorted(keys, unique), columns] = group_table[first]
                groups.append((langs, columns))
                start = columns.stop
            self._merged = keys, table, groups
        return self._merged

    def possible(self, text: str) -> np.ndarray:
        """Languages whose script matches the text's main script (none for a script none of them uses),
        narrowed to those that write every one of its letters, when some do: a letter only Ukrainian
        writes (ї) decides Ukrainian, one only Serbian writes (ђ) Serbian, whatever the n-grams say."""
        script = main_script(text)
        mask = self.scripts_.get(script, np.zeros(len(self.classes_), dtype=bool))
        at = self.letters_.index(sorted(set(text)))
        narrowed = mask & self.letter_masks_[at[at >= 0]].all(axis=0)
        return narrowed if narrowed.any() else mask

    def _joint_log_likelihood(self, texts: list[str]) -> np.ndarray:
        """Sum the weight rows of each text's kept n-grams (hashed as the vectorizer hashes them in
        ``fit``), plus the class prior. One text at a time: building a sparse matrix would cost more
        than the whole sum for the short texts users send."""
        analyze, n_features = self.vectorizer_.build_analyzer(), self.vectorizer_.n_features
        out = np.empty((len(texts), len(self.classes_)))
        for i, text in enumerate(texts):
            hashes = np.fromiter(map(murmurhash3_32, analyze(text)), dtype=np.int64)
            buckets = _buckets(hashes, n_features).astype(self.features_.dtype)
            rows = np.minimum(np.searchsorted(self.features_, buckets), len(self.features_) - 1)
            rows = rows[self.features_[rows] == buckets]
            out[i] = self.weights_[rows].sum(axis=0, dtype=np.float64) + self.bias_
        return out

    def _scores(self, cleaned: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log-likelihoods with impossible languages at -inf, length band, any language possible)."""
        jll = self._joint_log_likelihood(cleaned)
        self._word_evidence(cleaned, jll)
        masks = np.array([self.possible(c) for c in cleaned]).reshape(len(cleaned), len(self.classes_))
        jll[~masks] = -np.inf
        letters = [sum(ch.isalpha() for ch in c) for c in cleaned]
        return jll, np.searchsorted(LENGTH_EDGES, letters, side="right"), masks.any(axis=1)

    def _fit_temperatures(self, texts, labels) -> np.ndarray:
        """One temperature per length band, each minimising the log-loss of its band's texts."""
        jll, band, any_possible = self._scores([clean_text(t).text for t in texts])
        target = np.searchsorted(self.classes_, labels)
        rows = np.arange(len(target))
        usable = any_possible & np.isfinite(jll[rows, target])
        temperatures = np.ones(len(LENGTH_EDGES) + 1)
        for b in range(len(temperatures)):
            chosen = usable & (band == b)
            if chosen.sum() < 20:
                chosen = usable  # too few texts of this length: share the overall temperature
            z, t = jll[chosen], target[chosen]

            def loss(log_t: float, z=z, t=t) -> float:
                return -log_softmax(z / np.exp(log_t))[np.arange(len(t)), t].mean()

            temperatures[b] = float(np.exp(minimize_scalar(loss, bounds=(-3, 6), method="bounded").x))
        return temperatures

    def predict_proba(self, X: list[str]) -> np.ndarray:
        cleaned = [clean_text(x).text for x in X]
        jll, band, any_possible = self._scores(cleaned)
        jll[~any_possible] = 0.0  # no letters, or a script none of our languages uses: no evidence
        probs = np.exp(log_softmax(jll / self.temperatures_[band][:, None]))
        probs[~any_possible] = 1.0 / len(self.classes_)
        return probs

    def predict(self, X: list[str]) -> np.ndarray:
        probs = self.predict_proba(X)
        best = self.classes_[probs.argmax(axis=1)].astype(object)
        best[probs.max(axis=1) < self.unknown_below] = UNKNOWN
        return best

    def score(self, X: list[str], y: list[str]) -> float:
        """Accuracy of the top guess, ignoring the unknown threshold (what comparisons use)."""
        return float(np.mean(self.classes_[self.predict_proba(X).argmax(axis=1)] == np.asarray(y)))
