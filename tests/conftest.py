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
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

TRAINED = ["-c", "cats", "-c", "pokemon", "-m", "kn3", "-m", "markov2"]


def tnaas_env(artifacts, **extra) -> dict:
    # Data (the embedded Redis' files) beside the artifacts, never the developer's own ./data.
    env = os.environ | {"TNAAS_ARTIFACTS_DIR": str(artifacts), "TNAAS_DATA_DIR": f"{artifacts}-data", "COLUMNS": "200"}
    env.pop("REDIS_URL", None)
    return env | {k: str(v) for k, v in extra.items()}


@pytest.fixture(scope="session")
def trained_artifacts(tmp_path_factory):
    """Two corpora x two name models, the judge and the language detector, trained once by the CLI."""
    path = tmp_path_factory.mktemp("artifacts")
    out = subprocess.run([sys.executable, "-m", "tnaas", "train", *TRAINED], capture_output=True, text=True,
                         env=tnaas_env(path), timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return path


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a process this test session started, by its pid: SIGTERM, then SIGKILL."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; a bounded loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start_worker(env: dict, connection) -> subprocess.Popen:
    """`tnaas worker` with ``env``; returns once this very process has registered with RQ."""
    from rq import Worker

    process = subprocess.Popen([sys.executable, "-m", "tnaas", "worker"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wait_until(lambda: any(w.pid == process.pid for w in Worker.all(connection=connection)) or process.poll() is not None,
               timeout=60, what="the worker to register")
    assert process.poll() is None, "worker exited at start"
    return process


def start_web(env: dict) -> tuple[subprocess.Popen, str]:
    """`tnaas web` on a free loopback port; returns the process and its base URL once it answers."""
    import urllib.error
    import urllib.request

    from tnaas.redis_server import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tnaas", "web"], env=env | {"TNAAS_PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
        except urllib.error.HTTPError:
            return True  # answering, even if unhealthy
        except OSError:
            return process.poll() is not None
        return True

    wait_until(answering, timeout=30, what="the web process")
    assert process.poll() is None, "web process exited at start"
    return process, base


def http(method: str, url: str, body=None, headers: dict | None = None, raw: bytes | None = None):
    """(status, headers, parsed JSON or text) of one request; never raises on HTTP error statuses."""
    import json
    import urllib.error
    import urllib.request

    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} | (headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, head, text = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        status, head, text = err.code, err.headers, err.read().decode()
    try:
        return status, head, json.loads(text)
    except ValueError:
        return status, head, text
