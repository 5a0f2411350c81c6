"""p(L): how long names in a corpus are. Chains never want to stop; drawing L first fixes that."""

from __future__ import annotations

import numpy as np

from core.limits import MAX_NAME_LEN


class LengthPrior:
    """Empirical length distribution over 1..max_len with a little add-``alpha`` smoothing.

    ``restrict_to`` lets a model with hard zeros (an unsmoothed chain) drop lengths it cannot make.
    """

    def __init__(self, max_len: int = MAX_NAME_LEN, alpha: float = 0.01):
        self.max_len = max_len
        self.alpha = alpha

    def fit(self, words: list[str]) -> LengthPrior:
        counts = np.bincount([len(w) for w in words if len(w) <= self.max_len], minlength=self.max_len + 1)
        smoothed = counts.astype(float) + self.alpha
        smoothed[0] = 0.0
        self.probs_ = smoothed / smoothed.sum()
        return self

    def restrict_to(self, feasible: np.ndarray) -> LengthPrior:
        probs = np.where(feasible[: self.max_len + 1], self.probs_, 0.0)
        self.probs_ = probs / probs.sum()
        return self

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(len(self.probs_), size=size, p=self.probs_)

    def log_prob(self, length: int) -> float:
        if not 0 < length <= self.max_len:
            return float("-inf")
        with np.errstate(divide="ignore"):
            return float(np.log(self.probs_[length]))
