"""Train a team's own corpus in seconds: one name model chosen by the list's size, its length prior, an
adversarial judge and a believable reservoir, with a report for the people who sent the list.

Built-in corpora train every model and a 300,000-candidate reservoir (``models.training``); a team waits
for its answer, so its corpus gets the one model the list's size calls for (``MODEL_BY_SIZE``, measured
by ``bench/team_corpus_models.py``) and a reservoir: the ``TIER`` names its adversarial judge finds most
believable among ``POOL`` new candidates. The tier cannot shrink (100 requests of 10 would repeat names),
so a bigger pool is what makes it more selective. The artifacts are plain bytes (the same ``.npz``
formats as on disk) so that they can be kept where every worker reaches them.

A list of up to 550 names is blended with a prior fitted on other built-in corpora (``models.team_prior``):
its samples then look more like names in general. Believability (``bench/team_corpus_quality.py``, tuned
on npm, swedish and superheroes lists, reported on pypi-words and debian) still falls short of the
held-out real names, most at small sizes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from corpora import corpus_hash
from models.artifact import ArtifactInfo
from models.believability import (
    MIN_KEEP,
    NearCopies,
    judge_training_set,
    reservoir_from,
    score_candidates,
)
from models.believability_judge import BelievabilityJudge
from models.catalog import make_lm
from models.decency import default_blocklist
from models.name_model import NameModel
from models.strings import NameSet
from models.team_artifacts import to_bytes
from models.team_prior import BlendedLM, TeamPrior, weight_for
from models.training import nll_per_char, split

log = logging.getLogger(__name__)
# The Kneser-Ney order with the lowest held-out NLL for lists of up to this many names (the last: any
# larger), from bench/team_corpus_models.py: subsamples of six corpora's sources (debian's never tuned on),
# scored on 500 other names, nats/char. Cuts halfway (geometrically) between the sizes measured:
#   names   kn1    kn2    kn3    kn4    kn5
#   30      2.974  3.041  3.084  3.098  3.106
#   100     2.811  2.751  2.747  2.776  2.781
#   300     2.715  2.585  2.512  2.508  2.510
#   1000    2.676  2.437  2.285  2.241  2.236
#   10000   2.669  2.304  1.997  1.878  1.850
# Beyond 10,000 names kn4: kn5's automaton outgrows the per-corpus bound (TEAM_CORPUS_ARTIFACT_BYTES; 124 MB
# of artifacts at 50,000 names, kn4's 51 MB) for 0.03 nats/char (bench/team_corpus_training.py).
MODEL_BY_SIZE = ((55, "kn1"), (170, "kn3"), (550, "kn4"), (10_000, "kn5"), (None, "kn4"))
# From this many names the model fitted on 90% to measure the held-out NLL is the one served: a second fit
# on all of them would cost seconds for a tenth more names (the reservoir still avoids every listed name).
SERVE_HELD_OUT_FIT = 10_000
POOL = 100_000  # candidates sampled for the reservoir
TIER = MIN_KEEP  # names the reservoir keeps: 100 requests of 10 then repeat fewer than 5% of them
SMALL = 100  # below this many names the report warns: few names, few distinct new ones
EXAMPLES = 5
MIN_HELD_OUT = 2


def model_for_size(names: int) -> str:
    return next(model for most, model in MODEL_BY_SIZE if most is None or names <= most)


@dataclass(frozen=True)
class TrainedCorpus:
    """A team corpus' artifacts as bytes (``model``: a name model ``.npz``; ``reservoir``: its tier) and
    what the report says of the training."""

    version: str
    model: bytes
    reservoir: bytes
    model_name: str
    heldout_nll: float | None
    examples: list[str]
    reservoir_names: int
    seconds: float
    warning: str | None


def train_team_corpus(
    corpus: str,
    names: list[str],
    model_name: str | None = None,
    prior: TeamPrior | None = None,
    weight: float | None = None,
) -> TrainedCorpus:
    """``names`` (checked: ``corpora.team``) -> the served model fitted on all of them (blended with
    ``prior`` at the weight the list's size calls for, ``weight``: another), its held-out NLL from a fit on
    90% (at least MIN_HELD_OUT names held out), its judge and reservoir; reproducible. ``model_name``:
    another model than the list's size calls for (benchmarks compare them)."""
    start = time.perf_counter()
    model_name = model_name or model_for_size(len(names))
    weight = weight_for(len(names)) if weight is None else weight

    def blended() -> BlendedLM:
        return BlendedLM(make_lm(model_name), prior, weight)

    holdout = max(MIN_HELD_OUT / len(names), 0.1)
    train, test = split(names, holdout)
    heldout = NameModel(blended(), corpus).fit(train)
    scored = [w for w in test if np.isfinite(heldout.log_prob(w))]  # a letter only a held-out name has: unscorable
    nll = nll_per_char(heldout, scored) if scored else float("nan")
    lm = blended()
    info = ArtifactInfo(corpus=corpus, model=model_name, corpus_hash=corpus_hash(names), params=lm.params())
    info.metrics = {
        "heldout_nll": round(nll, 4) if np.isfinite(nll) else None,
        "heldout_names": len(test),
        "heldout_scored": len(scored),
        "names": len(names),
    }
    if len(names) >= SERVE_HELD_OUT_FIT:
        model = heldout
        model.known_ = NameSet.of(names)  # every listed name is known: never shown as new, found by `is`
    else:
        model = NameModel(lm, corpus).fit(names)
    rng = np.random.default_rng(int(info.version, 16))
    judge = BelievabilityJudge().fit(*judge_training_set(model, names, rng))
    tier_info = ArtifactInfo(
        corpus=corpus, model=model_name, corpus_hash=info.version, params={"pool": POOL, "tier": TIER}
    )
    near = NearCopies(names)
    candidates, scores = score_candidates(model, judge, near, rng, POOL)
    reservoir = reservoir_from(candidates, scores, model, near, default_blocklist(), tier_info, True, TIER)
    best = reservoir.names[: EXAMPLES * 10]  # stored best first: examples from the top of the tier
    examples = [best[int(i)] for i in rng.choice(len(best), size=min(EXAMPLES, len(best)), replace=False)]
    model_bytes, reservoir_bytes = to_bytes(model, info, reservoir)
    seconds = time.perf_counter() - start
    log.info("trained %s (%d names, %s) in %.1f s", corpus, len(names), model_name, seconds)
    return TrainedCorpus(
        version=info.version,
        model=model_bytes,
        reservoir=reservoir_bytes,
        model_name=model_name,
        heldout_nll=info.metrics["heldout_nll"],
        examples=examples,
        reservoir_names=len(reservoir),
        seconds=round(seconds, 2),
        warning=_warning(len(names), len(reservoir)),
    )


def _warning(names: int, reservoir: int) -> str | None:
    if names < SMALL:
        return (
            f"Only {names} names: the model learns little from so few, and many of its names will be near "
            f"copies of yours. {SMALL} or more give it room."
        )
    if reservoir < 200:
        return f"Only {reservoir} believable new names came out: expect repeats. More names would help."
    return None
