"""Each model kind's class, and the model each corpus answers with by default. The names themselves
(kinds, orders, descriptions) are ``core.model_names``'; the registry's look-ups are re-exported here."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from core.model_names import all_model_names, default_models, parse_model_name
from models.bayes import PomegranateLM
from models.kneser_ney import KneserNeyLM
from models.markov import MarkovifyLM

__all__ = ["LANGUAGE_MODELS", "all_model_names", "default_model_for", "default_models", "make_lm", "parse_model_name"]

LANGUAGE_MODELS = {"kn": KneserNeyLM, "markov": MarkovifyLM, "bayes": PomegranateLM}  # one per kind of KINDS
DEFAULTS_BY_CORPUS = Path(__file__).with_name("default_models.json")  # written by bench/believability.py


def default_model_for(corpus: str, fallback: str) -> str:
    """The model whose names an independent detector found most believable for this corpus
    (``python -m bench.believability --write-defaults``); ``fallback`` (the setting) for one it has not seen."""
    return _chosen_defaults().get(corpus, fallback)


@functools.cache
def _chosen_defaults() -> dict[str, str]:
    """Read once per process (asked per request): the file ships with the code, a new one with a deploy."""
    return json.loads(DEFAULTS_BY_CORPUS.read_text(encoding="utf-8")) if DEFAULTS_BY_CORPUS.exists() else {}


def make_lm(name: str):
    kind, order = parse_model_name(name)
    return LANGUAGE_MODELS[kind](order)
