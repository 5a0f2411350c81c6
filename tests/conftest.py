import numpy as np
import pytest
from scipy import stats

# A tiny corpus over a three-letter alphabet: small enough to enumerate every name exactly.
TINY = ["abc", "aab", "bca", "cab", "ab", "ba", "abca", "cc", "bac", "acb", "bb", "caab", "a"]


@pytest.fixture
def tiny() -> list[str]:
    return list(TINY)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def assert_same_distribution(samples: list[str], exact: dict[str, float], min_expected: float = 5.0) -> None:
    """Chi-square goodness of fit (cells with small expectation pooled) plus a total-variation bound."""
    n = len(samples)
    observed = {k: 0 for k in exact}
    for s in samples:
        assert s in observed, f"sampled {s!r}, which has probability 0"
        observed[s] += 1
    big = [k for k in exact if exact[k] * n >= min_expected]
    small = [k for k in exact if k not in big]
    obs = [observed[k] for k in big] + ([sum(observed[k] for k in small)] if small else [])
    exp = [exact[k] * n for k in big] + ([sum(exact[k] for k in small) * n] if small else [])
    exp = np.array(exp) * n / sum(exp)
    p = stats.chisquare(obs, exp).pvalue
    tv = 0.5 * sum(abs(observed[k] / n - exact[k]) for k in exact)
    assert p > 1e-3, f"chi-square p = {p:.2e}, total variation {tv:.4f}"
    assert tv < np.sqrt(len(exact) / n), f"total variation {tv:.4f}"  # ~2.5x its expected size
