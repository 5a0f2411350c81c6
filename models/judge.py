"""The judge: is a name a Pokemon or tech? And which corpus does it sound like?

First the product's own question, a calibrated two-way verdict (``PokemonOrTech``): Kneser-Ney
character models of Pokemon names and of software names (PyPI, npm, Debian's projects, and one-word
names from the whole PyPI index, the invented brand-like kind) give log-likelihood ratios at orders
1-3; with the name's length, its frequency as a word (corpora/languages/) and whether it has
separators or digits, a balanced logistic regression, fitted on out-of-fold ratios, turns them into
P(tech) for even odds, shifted to any prior. A known name is answered by lookup; an unknown one with
``UNKNOWN_PRIOR_TECH``.

Then every corpus: TF-IDF over character 1-4-grams within word boundaries, then multinomial logistic
regression with balanced class weights, so a big corpus (PyPI) does not win by size alone. It also
knows every real name (separators and case ignored, as people type them), so a name that exists is
reported as real, never merely "likely". The same probabilities rank generated candidates.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import Pipeline

from corpora import corpus_names, judge_corpus_names, load_corpus
from models.kneser_ney import KneserNeyLM
from models.language import LANGUAGES_DIR
from models.pattern import normalise_pattern
from models.strings import NameSet
from models.vectorizers import ArrayTfidfVectorizer

HARD_CASE = ("pokemon", "pypi", "npm")
TECH = ("pypi", "npm", "debian", "pypi-words")  # software project names: the "tech" side of "Pokemon or tech?"
# Prior P(tech) for a name that is neither a known Pokemon nor a known project. Pokemon are a closed
# list we hold entirely (1,025 names, about a hundred new every few years), while thousands of software
# projects are named every week: an unknown name is far more likely software. 0.9 (9:1) is much milder
# than that ratio, so a name that sounds strongly like a Pokemon is still called one.
UNKNOWN_PRIOR_TECH = 0.9
WORD_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "sv")  # is the name an everyday word?
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 "


def name_key(name: str) -> str:
    """How people type a name: case, hyphens, underscores, dots and spaces do not matter."""
    return re.sub(r"[-_. ]+", "", normalise_pattern(name))


def _spelled(name: str) -> str:
    """Lowercase, separators as one space, letters and digits only (the character models' alphabet)."""
    return re.sub(r"[^a-z0-9 ]", "", re.sub(r"[-_. ]+", " ", normalise_pattern(name))).strip()


def corpus_dataset() -> tuple[list[str], list[str]]:
    """Every (name, corpus) pair; a name in two corpora appears once under each."""
    names, labels = [], []
    for corpus in judge_corpus_names():
        words = load_corpus(corpus)
        names += words
        labels += [corpus] * len(words)
    return names, labels


def split_by_name(names: list[str], labels: list[str], test: float = 0.2, seed: int = 42):
    """Hold out whole names (every corpus a held-out name is in), stratified by corpus."""
    by_corpus: dict[str, list[str]] = {}
    for n, c in zip(names, labels):
        by_corpus.setdefault(c, []).append(n)
    rng = random.Random(seed)
    held = set()
    for corpus in sorted(by_corpus):
        members = sorted(set(by_corpus[corpus]))
        held.update(rng.sample(members, int(len(members) * test)))
    train = [(n, c) for n, c in zip(names, labels) if n not in held]
    tested = [(n, c) for n, c in zip(names, labels) if n in held]
    return train, tested


def word_zipf(languages: tuple[str, ...] = WORD_LANGUAGES) -> dict[str, tuple[float, float]]:
    """word -> (Zipf frequency in English, highest in any of ``languages``), from corpora/languages/."""
    out: dict[str, tuple[float, float]] = {}
    for lang in languages:
        for line in (LANGUAGES_DIR / f"{lang}.words.txt").read_text(encoding="utf-8").splitlines():
            word, _, zipf = line.partition("\t")
            if zipf:
                en, best = out.get(word, (0.0, 0.0))
                out[word] = (float(zipf) if lang == "en" else en, max(best, float(zipf)))
    return out


class WordFrequencies:
    """``word_zipf`` as arrays (the words in a ``NameSet``, their two frequencies in rows alongside): a
    model that loads it maps it, where a dict of ~76,000 words cost every worker ~14 MB of its own."""

    def __init__(self, zipf: dict[str, tuple[float, float]]):
        self.words = NameSet.of(zipf)
        self.table = np.array([zipf[w] for w in self.words], dtype=np.float64).reshape(-1, 2)

    def lookup(self, words: list[str]) -> np.ndarray:
        """(English Zipf, highest Zipf) of each word; (0, 0) for one not listed."""
        at = self.words.index(words)
        return (
            np.where((at >= 0)[:, None], self.table[np.maximum(at, 0)], 0.0)
            if len(self.table)
            else np.zeros((len(words), 2))
        )


class KnownNames(Mapping):
    """Name key -> the corpora that have that name, as arrays: the keys in a ``NameSet`` and, per key,
    a bit per corpus. A mapping a loaded model maps rather than rebuilds (a dict of ~130,000 keys and
    lists cost every worker ~22 MB of its own)."""

    def __init__(self, names: list[str], corpora: list[str]):
        members: dict[str, set[str]] = {}
        for name, corpus in zip(names, corpora):
            members.setdefault(name_key(name), set()).add(corpus)
        self.corpora = np.array(sorted(set(corpora)))
        if len(self.corpora) > 64:
            raise ValueError("at most 64 corpora fit a key's bits")
        bit = {c: 1 << i for i, c in enumerate(self.corpora.tolist())}
        self.keys = NameSet.of(members)
        self.bits = np.array([sum(bit[c] for c in members[k]) for k in self.keys], dtype=np.uint64)

    def __getitem__(self, key: str) -> list[str]:
        at = int(self.keys.index([key])[0]) if isinstance(key, str) else -1
        if at < 0:
            raise KeyError(key)
        bits = int(self.bits[at])
        return [c for i, c in enumerate(self.corpora.tolist()) if bits >> i & 1]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


class PokemonOrTech:
    """``fit(names, is_tech)``; ``predict_proba`` -> P(tech) for even odds; ``predict`` -> "pokemon"/"tech"."""

    labels = ("pokemon", "tech")

    def __init__(self, orders: tuple[int, ...] = (1, 2, 3), folds: int = 3, C: float = 1.0, seed: int = 0):
        self.orders = orders
        self.folds = folds
        self.C = C
        self.seed = seed

    def _models(self, pokemon: list[str], tech: list[str]) -> list[tuple]:
        # The alphabet as one extra "name" so every character model knows every symbol (no -inf).
        return [
            (KneserNeyLM(k).fit(pokemon + [_ALPHABET]).automaton_, KneserNeyLM(k).fit(tech + [_ALPHABET]).automaton_)
            for k in self.orders
        ]

    def _features(self, spelled: list[str], models: list[tuple]) -> np.ndarray:
        cols = [p.log_probs(spelled) - t.log_probs(spelled) for p, t in models]
        zipf = self.zipf_.lookup([s.replace(" ", "") for s in spelled])
        cols += [
            np.array([len(s) for s in spelled]) / 10,
            zipf[:, 0],
            zipf[:, 1],
            np.array([" " in s for s in spelled], float),
            np.array([any(c.isdigit() for c in s) for s in spelled], float),
        ]
        return np.column_stack(cols)

    def fit(self, X: list[str], y: list[int]) -> PokemonOrTech:
        """``y`` is 1 for tech, 0 for Pokemon. The stacker sees ratios from models that never saw the name."""
        self.zipf_ = WordFrequencies(word_zipf())
        spelled = np.array([_spelled(x) for x in X], dtype=object)
        y = np.asarray(y)
        fold = np.random.default_rng(self.seed).integers(0, self.folds, len(spelled))
        features = np.zeros((len(spelled), len(self.orders) + 5))
        for f in range(self.folds):
            inside, outside = fold != f, fold == f
            models = self._models(list(spelled[inside & (y == 0)]), list(spelled[inside & (y == 1)]))
            features[outside] = self._features(list(spelled[outside]), models)
        self.stacker_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000).fit(features, y)
        self.models_ = self._models(list(spelled[y == 0]), list(spelled[y == 1]))
        return self

    def predict_proba(self, X: list[str], prior_tech: float = 0.5) -> np.ndarray:
        """P(tech) per name, for prior odds ``prior_tech : 1 - prior_tech`` (even odds by default: a quiz)."""
        logit = self.stacker_.decision_function(self._features([_spelled(x) for x in X], self.models_))
        return 1.0 / (1.0 + np.exp(-(logit + np.log(prior_tech / (1.0 - prior_tech)))))

    def predict(self, X: list[str]) -> np.ndarray:
        return np.where(self.predict_proba(X) >= 0.5, "tech", "pokemon")


def pokemon_or_tech_dataset(names: list[str], labels: list[str]) -> tuple[list[str], list[int]]:
    """Pokemon names (0) and software names (1), one entry per typed form; a name on both sides is left out."""
    pokemon = {name_key(n): n for n, c in zip(names, labels) if c == "pokemon"}
    tech = {name_key(n): n for n, c in zip(names, labels) if c in TECH}
    both = pokemon.keys() & tech.keys()
    X = [n for k, n in pokemon.items() if k not in both] + [n for k, n in tech.items() if k not in both]
    return X, [0] * (len(pokemon) - len(both)) + [1] * (len(tech) - len(both))


class CorpusJudge:
    """``fit(names, corpora)``; ``verdict`` Pokemon or tech; ``predict_proba`` per corpus; ``real_in(name)``."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 4),
        C: float = 5.0,
        with_verdict: bool = True,
        max_per_corpus: int | None = None,
    ):
        self.ngram_range = ngram_range
        self.C = C
        self.with_verdict = with_verdict
        # a stack's first judge ranks from a sample of each corpus (seconds, not minutes); the full one follows
        self.max_per_corpus = max_per_corpus

    def fit(self, X: list[str], y: list[str]) -> CorpusJudge:
        self.pipeline_ = Pipeline(
            [
                (
                    "ngrams",
                    ArrayTfidfVectorizer(
                        analyzer="char_wb", ngram_range=self.ngram_range, sublinear_tf=True, dtype=np.float32
                    ),
                ),
                ("linear", LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000)),
            ]
        )
        ranked = [i for i, c in enumerate(y) if c in set(corpus_names())]  # judge-only corpora: verdict only
        if self.max_per_corpus is not None:
            by_corpus: dict[str, list[int]] = {}
            for i in ranked:
                by_corpus.setdefault(y[i], []).append(i)
            rng = random.Random(0)
            ranked = sorted(
                j for ids in by_corpus.values() for j in rng.sample(ids, min(len(ids), self.max_per_corpus))
            )
        self.pipeline_.fit([self._prepare(X[i]) for i in ranked], [y[i] for i in ranked])
        self.classes_ = self.pipeline_.classes_
        self.members_ = KnownNames(X, y)
        if self.with_verdict:
            self.pokemon_or_tech_ = PokemonOrTech().fit(*pokemon_or_tech_dataset(X, y))
        return self

    def verdict(self, name: str) -> tuple[str, float]:
        """("tech" or "pokemon", its probability). A name that exists on one side only is that side;
        any other name is judged by how it sounds, at even odds when it is both a Pokemon and a
        project (snorlax), at ``UNKNOWN_PRIOR_TECH`` when it is neither."""
        known = set(self.real_in(name))
        pokemon, tech = "pokemon" in known, bool(known & set(TECH))
        if pokemon != tech:
            return ("pokemon", 1.0) if pokemon else ("tech", 1.0)
        prior = 0.5 if pokemon else UNKNOWN_PRIOR_TECH
        p_tech = float(self.pokemon_or_tech_.predict_proba([name], prior_tech=prior)[0])
        return ("tech", p_tech) if p_tech >= 0.5 else ("pokemon", 1.0 - p_tech)

    @staticmethod
    def _prepare(text: str) -> str:
        # Hyphens and dots separate words in package names: let char_wb see word boundaries there.
        return normalise_pattern(text).replace("-", " ").replace("_", " ").replace(".", " ")

    def predict_proba(self, X: list[str]) -> np.ndarray:
        return self.pipeline_.predict_proba([self._prepare(x) for x in X])

    def predict(self, X: list[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X: list[str], y: list[str]) -> float:
        return float(accuracy_score(y, self.predict(X)))

    def believability(self, candidates: list[str], corpus: str) -> np.ndarray:
        """P(corpus | candidate): how much each candidate sounds like the corpus it was made for."""
        return self.predict_proba(candidates)[:, list(self.classes_).index(corpus)]

    def real_in(self, name: str) -> list[str]:
        return sorted(self.members_.get(name_key(name), []))


def evaluate_judge(seed: int = 42) -> dict:
    """Held-out accuracy, macro-F1 and the confusion matrix, from a judge fitted on 80% of names."""
    train, test = split_by_name(*corpus_dataset(), seed=seed)
    test = [(n, c) for n, c in test if c in set(corpus_names())]  # the ranking covers user-facing corpora
    judge = CorpusJudge(with_verdict=False).fit(*map(list, zip(*train)))  # the verdict has its own evaluation
    names, truth = map(list, zip(*test))
    pred = judge.predict(names)
    hard = [i for i, t in enumerate(truth) if t in HARD_CASE]
    labels = list(judge.classes_)
    return {
        "accuracy": round(float(accuracy_score(truth, pred)), 4),
        "macro_f1": round(float(f1_score(truth, pred, average="macro")), 4),
        "labels": labels,
        "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
        "hard_case_accuracy": round(float(accuracy_score([truth[i] for i in hard], pred[hard])), 4),
        "heldout_names": len(test),
        "pokemon_or_tech": evaluate_pokemon_or_tech(seed=seed),
    }


def evaluate_pokemon_or_tech(
    seed: int = 42, test: float = 0.2, exclude: set[str] = frozenset(), prior_tech: float = 0.5
) -> dict:
    """Held-out accuracy of the two-way verdict: a fifth of the names of each side (by typed form)
    never trained on, plus any ``exclude``d names (e.g. a quiz's) kept out of training altogether."""
    X, y = pokemon_or_tech_dataset(*corpus_dataset())
    keep = [i for i, n in enumerate(X) if name_key(n) not in exclude]
    X, y = [X[i] for i in keep], np.array([y[i] for i in keep])
    rng = np.random.default_rng(seed)
    held = np.zeros(len(X), dtype=bool)
    for side in (0, 1):
        members = np.flatnonzero(y == side)
        held[rng.choice(members, int(len(members) * test), replace=False)] = True
    model = PokemonOrTech().fit([x for x, h in zip(X, held) if not h], y[~held])
    names = [x for x, h in zip(X, held) if h]
    return pokemon_or_tech_report(model, names, y[held], prior_tech)


def pokemon_or_tech_report(model: PokemonOrTech, names: list[str], y, prior_tech: float = 0.5) -> dict:
    """Accuracy per side and balanced, the confusion table (rows truth, columns verdict), Brier score."""
    y = np.asarray(y)
    p = model.predict_proba(names, prior_tech)
    pred = (p >= 0.5).astype(int)
    recall = [float(np.mean(pred[y == side] == side)) for side in (0, 1)]
    return {
        "accuracy": round(float(np.mean(pred == y)), 4),
        "balanced_accuracy": round(float(np.mean(recall)), 4),
        "pokemon_right": round(recall[0], 4),
        "tech_right": round(recall[1], 4),
        "confusion": {
            "pokemon": {"pokemon": int(np.sum((y == 0) & (pred == 0))), "tech": int(np.sum((y == 0) & (pred == 1)))},
            "tech": {"pokemon": int(np.sum((y == 1) & (pred == 0))), "tech": int(np.sum((y == 1) & (pred == 1)))},
        },
        "brier": round(float(np.mean((p - y) ** 2)), 4),
        "names": len(names),
    }
