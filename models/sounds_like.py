"""``is snorlax`` / ``lang <text>``: what a name or a text sounds like, as one plain answer (the job
contract's ``SoundsLike`` reads it as it is)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.errors import TNaaSError
from core.languages import NAMES, UNKNOWN
from core.limits import EVIDENCE_LEN, MAX_NAME_LEN
from core.pattern import normalise_pattern
from models.text import clean_text

if TYPE_CHECKING:  # both import scikit-learn; a request that asks nothing of them should not
    from models.judge import CorpusJudge
    from models.language import LanguageDetector

TOP = 3
NAME = re.compile(rf"[a-z0-9åäö._-]{{1,{MAX_NAME_LEN}}}")  # what corpus names are made of; anything else is text
LANGUAGE_MIN_LETTERS = 4  # below this, a language guess means nothing
NAME_LANGUAGE_MIN = 0.7  # a made-up name "sounds Polish" only when the detector is this sure


@dataclass
class Score:
    label: str
    name: str
    probability: float


@dataclass
class SoundsLike:
    text: str
    is_name: bool  # a single name-like token: corpus scores apply
    verdict: Score | None = None  # "Pokemon or tech?" first: pokemon or tech, for even odds
    real_in: list[str] = field(default_factory=list)  # corpora that contain this name (case and separators ignored)
    corpora: list[Score] = field(default_factory=list)
    language: str = UNKNOWN  # best language, or "unknown" when the evidence is weak
    languages: list[Score] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sounds_like(text: str, judge: CorpusJudge, detector: LanguageDetector) -> SoundsLike:
    """Corpus scores for a name; language scores wherever there are enough letters to mean something."""
    if not text or not text.strip():
        raise TNaaSError("Give me a name or some text, e.g. `is snorlax` or `lang hej på dig`.")
    clean = clean_text(text)
    notes = [f"Only the first {EVIDENCE_LEN} characters were used."] if clean.truncated else []
    visible = " ".join(normalise_pattern(word) for word in text.split())
    shown = visible[:60] + ("…" if len(visible) > 60 else "")
    if not clean.text:
        return SoundsLike(text=shown, is_name=False, notes=notes + ["There are no letters to go on."])
    token = normalise_pattern(text)
    is_name = len(text.split()) == 1 and NAME.fullmatch(token) is not None  # words with spaces between: a text
    answer = SoundsLike(text=shown, is_name=is_name, notes=notes)
    if len(found := scripts(clean.text)) > 1:
        answer.notes.append(f"This mixes scripts ({', '.join(found)}): the scores follow the majority.")
    if is_name:
        answer.real_in = judge.real_in(token)
        label, probability = judge.verdict(token)
        answer.verdict = Score(
            label=label, name="Pokemon" if label == "pokemon" else "tech", probability=round(probability, 4)
        )
        answer.corpora = _ranked(
            judge.classes_, judge.predict_proba([token])[0], dict(zip(judge.classes_, judge.classes_))
        )
    if clean.letters >= LANGUAGE_MIN_LETTERS:
        probs = detector.predict_proba([clean.text])[0]
        answer.languages = _ranked(detector.classes_, probs, NAMES)
        if probs.max() >= (NAME_LANGUAGE_MIN if is_name else detector.unknown_below):
            answer.language = str(detector.classes_[int(np.argmax(probs))])
        else:
            answer.notes.append("No language stands out.")
    else:
        answer.notes.append("Too short to tell a language.")
    return answer


def scripts(text: str) -> list[str]:
    """Writing systems of the letters in ``text`` (LATIN, CYRILLIC, CJK...), most used first."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            script = unicodedata.name(ch, "UNKNOWN").split()[0].title()
            script = "CJK" if script in {"Cjk", "Hiragana", "Katakana"} else script  # Japanese mixes these
            counts[script] = counts.get(script, 0) + 1
    return sorted(counts, key=lambda s: -counts[s])


def _ranked(labels, probs: np.ndarray, names: dict) -> list[Score]:
    order = np.argsort(-probs)[:TOP]
    return [
        Score(label=str(labels[i]), name=str(names.get(labels[i], labels[i])), probability=round(float(probs[i]), 4))
        for i in order
    ]
