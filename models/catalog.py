"""Model names users can pick (``kn5``, ``markov3``, ``bayes1``) and what each one is."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import UnknownModel
from models.bayes import PomegranateLM
from models.kneser_ney import KneserNeyLM
from models.markov import MarkovifyLM


@dataclass(frozen=True)
class ModelKind:
    lm: type
    orders: range
    description: str
    competes: bool = True  # fast enough to sample a ranking pool per request, so the bandit may pick it


KINDS = {
    "kn": ModelKind(KneserNeyLM, range(1, 9), "interpolated modified Kneser-Ney, exact sampling"),
    "markov": ModelKind(MarkovifyLM, range(1, 6), "markovify chain (unsmoothed), exact sampling or plain walk"),
    "bayes": ModelKind(
        PomegranateLM, range(1, 2), "pomegranate order-1 chain and Bayesian network (slow, optional)", competes=False
    ),
}
TRAINED_BY_DEFAULT = ["kn5", "kn3", "markov3", "markov2"]


DEFAULTS_BY_CORPUS = Path(__file__).with_name("default_models.json")  # written by bench/believability.py


def default_model_for(corpus: str, fallback: str) -> str:
    """The model whose names an independent detector found most believable for this corpus
    (``python -m bench.believability --write-defaults``); ``fallback`` (the setting) for one it has not seen."""
    return _chosen_defaults().get(corpus, fallback)


@functools.cache
def _chosen_defaults() -> dict[str, str]:
    """Read once per process (asked per request): the file ships with the code, a new one with a deploy."""
    return json.loads(DEFAULTS_BY_CORPUS.read_text(encoding="utf-8")) if DEFAULTS_BY_CORPUS.exists() else {}


def bayes_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "pomegranate"))


def default_models() -> list[str]:
    return TRAINED_BY_DEFAULT + (["bayes1"] if bayes_available() else [])


def all_model_names() -> list[str]:
    return [f"{name}{k}" for name, kind in KINDS.items() for k in kind.orders]


def parse_model_name(name: str) -> tuple[str, int]:
    """(kind, order) of ``kn5``; ASCII digits only (``kn٥`` is refused, not read as 5), leading zeros allowed."""
    match = re.fullmatch(r"([a-z]+)([0-9]{1,3})", name.strip().lower())
    if not match or match[1] not in KINDS or int(match[2]) not in KINDS[match[1]].orders:
        raise UnknownModel(name, default_models())
    return match[1], int(match[2])


def canonical_model_name(name: str) -> str:
    """The one spelling of a model name: ``KN05`` -> ``kn5``; UnknownModel for anything else."""
    kind, order = parse_model_name(name)
    return f"{kind}{order}"


def make_lm(name: str):
    kind, order = parse_model_name(name)
    return KINDS[kind].lm(order)


def describe(name: str) -> str:
    kind, order = parse_model_name(name)
    return f"{KINDS[kind].description}, order {order}"


def competes(name: str) -> bool:
    return KINDS[parse_model_name(name)[0]].competes
