"""A prior character model of many names, interpolated with a team's own small one.

A list of 30 names teaches a Kneser-Ney model little beyond its letters; a model fitted once on the
built-in corpora that do not come from the benchmark's sources knows how names in general are spelt.
The blend is P(c | h) = w P_team(c | h) + (1 - w) P_prior(c | h), each model answering from the
longest suffix of h it has seen: compiled to one automaton over the union of both models' contexts (a
state of the union determines both models' states), with the prior's letters restricted to the team's
alphabet and renormalised, so that the blend never spells a letter the team never used.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.errors import ArtifactVersionMismatch, ModelNotTrained
from corpora import corpus_hash, load_corpus
from models import artifact
from models.artifact import ArtifactInfo
from models.automaton import ContextAutomaton
from models.catalog import make_lm

log = logging.getLogger(__name__)
PRIOR_NAME = "team-prior"
# The built-in corpora a team's names are blended with: none from PyPI or Debian, the sources of the lists
# the blend is reported on (bench/team_corpus_quality.py).
PRIOR_CORPORA = ("npm", "pokemon", "superheroes", "cats", "dogs", "swedish")
# kn3: a kn4 prior lowers held-out NLL by 0.01-0.07 nats/char more, with 3-5 times the contexts, which
# every blended corpus' artifact carries (a kn3 prior's: 4.5-7.0 MB at 30-550 names).
PRIOR_MODEL = "kn3"
# The team model's weight for lists of up to this many names (the last: any larger), tuned for
# believability (bench/team_corpus_quality.py's detector: shown names' gap to held-out real ones) on npm and
# superheroes lists, each with a prior that left its own corpus out; gap at weights 1 / chosen:
#   names  npm            superheroes
#   30     -0.76 / -0.51  -0.67 / -0.36   (0.5: -0.57 / -0.51; 0.1-0.2 on superheroes: -0.34 to -0.37)
#   100    -0.44 / -0.25  -0.43 / -0.11   (0.6: -0.35 / -0.30; 0.3 on superheroes: -0.21)
#   300    -0.32 / -0.18  -0.30 / -0.17   (0.8: -0.30 / -0.21)
#   1000   -0.13 / -0.04  -0.05 / +0.02 at 0.7; at 0.9 -0.05 / -0.11: no clear gain, and a second of training
# Held-out NLL (500 other names of npm, swedish and superheroes) is lowest at higher weights: 0.3-0.6 at 30
# names, 0.4-0.7 at 100, 0.6-0.9 at 300, 0.8-1 at 1,000; the shown names are more believable below them.
WEIGHT_BY_SIZE = ((55, 0.3), (170, 0.4), (550, 0.6), (None, 1.0))


def weight_for(names: int) -> float:
    return next(weight for most, weight in WEIGHT_BY_SIZE if most is None or names <= most)


def fit_prior(words: list[str], model: str) -> ContextAutomaton:
    return make_lm(model).fit(words).automaton_


def _longest_suffix(context: str, ids: dict[str, int]) -> int:
    for i in range(len(context) + 1):
        found = ids.get(context[i:])
        if found is not None:
            return found
    raise ValueError("the empty context is always a state")


@dataclass(frozen=True)
class Blend:
    """Both models' rows over the union of their contexts: ``at(w)`` is the interpolated automaton."""

    structure: ContextAutomaton
    team: np.ndarray
    prior: np.ndarray

    def at(self, weight: float) -> ContextAutomaton:
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"the team model's weight must be within [0, 1], not {weight}")
        return replace(self.structure, probs=weight * self.team + (1.0 - weight) * self.prior)


def blend(team: ContextAutomaton, prior: ContextAutomaton) -> Blend:
    alphabet = team.alphabet
    prior_ids = {str(c): i for i, c in enumerate(prior.contexts) if prior.probs[i].any()}
    team_ids = {str(c): i for i, c in enumerate(team.contexts) if team.probs[i].any()}
    letters = set(alphabet.chars)
    contexts = dict.fromkeys(team_ids)
    contexts.update((c, None) for c in prior_ids if set(c.lstrip("^")) <= letters)
    # the prior's columns in the team's alphabet (a letter the prior never saw: probability 0)
    columns = np.array([0] + [prior.alphabet.id(ch) if ch in prior.alphabet else -1 for ch in alphabet.chars])
    restricted = np.where(columns >= 0, prior.probs[:, np.maximum(columns, 0)], 0.0)
    sums = restricted.sum(axis=1, keepdims=True)
    restricted = np.divide(restricted, sums, out=np.zeros_like(restricted), where=sums > 0)
    ordered = sorted(contexts, key=lambda c: (len(c), c))
    team_rows = team.probs[[_longest_suffix(c, team_ids) for c in ordered]]
    prior_rows = restricted[[_longest_suffix(c, prior_ids) for c in ordered]]
    empty = ~prior_rows.any(axis=1)  # the prior knows none of the team's letters there: the team alone
    prior_rows[empty] = team_rows[empty]
    structure = ContextAutomaton.from_rows(alphabet, ordered, team_rows)
    order = {str(c): i for i, c in enumerate(structure.contexts)}
    at = np.array([order[c] for c in ordered])
    team_probs, prior_probs = np.zeros_like(structure.probs), np.zeros_like(structure.probs)
    team_probs[at], prior_probs[at] = team_rows, prior_rows
    return Blend(structure, team_probs, prior_probs)


class BlendedLM:
    """A team's Kneser-Ney model interpolated with the prior at ``weight`` (none, or ``weight`` 1: the team's
    alone). Fitted, it is plain data: its automaton is stored and served as any Kneser-Ney model's."""

    def __init__(self, lm, prior: TeamPrior | None, weight: float):
        self.lm, self.prior, self.weight = lm, prior, weight
        self.order = lm.order

    @property
    def used(self) -> bool:
        return self.prior is not None and self.weight < 1.0

    def params(self) -> dict:
        """What an artifact's version records: the team model's parameters, the prior's version and weight."""
        own = {"order": self.lm.order} | vars(self.lm)
        return own | ({"prior": self.prior.version, "prior_weight": self.weight} if self.used else {})

    def fit(self, words: list[str]) -> BlendedLM:
        team = self.lm.fit(words).automaton_
        self.automaton_ = blend(team, self.prior.automaton).at(self.weight) if self.used else team
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        return self.automaton_.to_arrays()


@dataclass(frozen=True)
class TeamPrior:
    automaton: ContextAutomaton
    version: str


def prior_words() -> list[str]:
    return list(dict.fromkeys(w for corpus in PRIOR_CORPORA for w in load_corpus(corpus)))


def prior_info(words: list[str]) -> ArtifactInfo:
    return ArtifactInfo(
        corpus=PRIOR_NAME, model=PRIOR_MODEL, corpus_hash=corpus_hash(words), params={"corpora": list(PRIOR_CORPORA)}
    )


@functools.cache
def team_prior(folder: Path) -> TeamPrior:
    """The prior, loaded once per process from ``folder`` (mapped); fitted and written there first when it is
    missing or of another version (a few seconds, once per machine)."""
    words = prior_words()
    info = prior_info(words)
    path = folder / PRIOR_NAME / f"{PRIOR_MODEL}.npz"
    try:
        found, arrays = artifact.open_checked(path)
        if found.version == info.version:
            return TeamPrior(ContextAutomaton.from_arrays(arrays), info.version)
    except (ModelNotTrained, ArtifactVersionMismatch):
        pass
    automaton = fit_prior(words, PRIOR_MODEL)
    artifact.save_arrays(path, info.header(), automaton.to_arrays())
    log.info("fitted the team prior %s (%d names, %d states)", info.version, len(words), len(automaton.contexts))
    return TeamPrior(automaton, info.version)
