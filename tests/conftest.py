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


# -- real processes ---------------------------------------------------------------------------------
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from testkit.processes import local_registries, tnaas_env  # noqa: E402
from tnaas.redis_server import EmbeddedRedis  # noqa: E402

# No test asks a real package registry: unless a test starts a stand-in, availability goes to a closed
# loopback port (this process and every process a test starts inherit it).
os.environ.update({k: v for k, v in local_registries().items() if k not in os.environ})

TRAINED = ["-c", "cats", "-c", "pokemon", "-m", "kn3", "-m", "markov2"]


@pytest.fixture
def short_dir():
    """A directory whose path is short enough for a Unix socket (pytest's tmp paths can be too long)."""
    with tempfile.TemporaryDirectory(prefix="tnaas-") as path:
        yield Path(path)


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server of the test's own, on a free loopback port, stopped by its pid afterwards."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def trained_artifacts(tmp_path_factory):
    """Two corpora x two name models, the judge and the language detector, trained once by the CLI.
    ``TNAAS_TEST_ARTIFACTS_CACHE``: a directory trained into (only what is out of date) and copied from, so
    repeated local runs skip the training; each session still gets its own copy to write into."""
    path = tmp_path_factory.mktemp("artifacts")
    cache = os.environ.get("TNAAS_TEST_ARTIFACTS_CACHE")
    out = subprocess.run(
        [sys.executable, "-m", "tnaas", "train", *TRAINED],
        capture_output=True,
        text=True,
        env=tnaas_env(Path(cache) if cache else path),
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    if cache:
        shutil.copytree(cache, path, dirs_exist_ok=True)
    return path
