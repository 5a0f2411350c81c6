"""The model names users can pick (``kn5``, ``markov3``, ``bayes1``): the kinds, their orders and what
each one is. Names only, no model classes (those are ``models.catalog``'s), so every surface checks a
name without importing the models."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

from core.errors import UnknownModel


@dataclass(frozen=True)
class ModelKind:
    orders: range
    description: str
    spoken: str  # what a user reads in a reply: the method's name, not our spelling of it
    competes: bool = True  # fast enough to sample a ranking pool per request, so the bandit may pick it


KINDS = {
    "kn": ModelKind(range(1, 9), "interpolated modified Kneser-Ney, exact sampling", "Kneser-Ney"),
    "markov": ModelKind(range(1, 6), "markovify chain (unsmoothed), exact sampling or plain walk", "Markov chain"),
    "bayes": ModelKind(
        range(1, 2),
        "pomegranate order-1 chain and Bayesian network (slow, optional)",
        "Bayesian network",
        competes=False,
    ),
}
TRAINED_BY_DEFAULT = ["kn5", "kn3", "markov3", "markov2"]


def bayes_available() -> bool:
    """The optional extra is installed (looked up, not imported: torch takes seconds)."""
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


def describe(name: str) -> str:
    kind, order = parse_model_name(name)
    return f"{KINDS[kind].description}, order {order}"


def in_words(name: str) -> str:
    """``kn3`` as a user reads it: "Kneser-Ney, 3 letters of context" (every order is the letters of
    history the model conditions on). A name this vocabulary does not know is shown as it is."""
    try:
        kind, order = parse_model_name(name)
    except UnknownModel:
        return name
    return f"{KINDS[kind].spoken}, {order} letter{'s' if order != 1 else ''} of context"


def competes(name: str) -> bool:
    return KINDS[parse_model_name(name)[0]].competes
