"""Availability and `like`: snapshot look-ups and memory, live-check latency, the like-walk's latency;
registry calls per request and the latency of unrelated requests while a registry is slow, on the stack.

Run: ``.venv/bin/python -m bench.availability [--pypi FILE] [--npm FILE] [--npm-scale N]``.
``--only calls [--baseline DIR]`` (after ``tnaas train``): the stack (`tnaas web`, 2 workers, Redis, a
Slack stand-in) against the registry stand-in, no snapshot, as on a fresh install; registry calls per
request kind (median of 3, the cache expired between them), 20 checks from one address at once, and
the latency of an unrelated request (``detect``) while the registry answers in 3 s and other requests
keep asking it; first on each baseline checkout's stack (e.g. ``git archive`` of an older commit),
then on this one's.
FILE is any list `tnaas availability refresh --from` reads (a JSON list such as all-the-package-names'
names.json, a PEP 691 index, or one name per line / first TSV column). Without files, name lists of the
registries' sizes are synthesised (look-up speed and memory depend on the count, not on the letters);
``--npm-scale`` pads the npm list with synthetic names up to N (npm has millions). Every figure is
measured side by side with its peer in the same run: a Python ``set`` of normalised names for the
snapshot, the same walk run through ``forward_filter``/``marginals`` per walker for `like`.
Targets: look-ups over 1 million/s from the snapshot; `like` under 10 ms median for a 6-letter name.
Single process; on a shared 2-core machine the figures are noisy: rerun on a quiet one.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from availability.checker import AvailabilityChecker
from availability.config import RegistryEndpoint
from availability.live import LiveChecker
from availability.rules import NPM, PYPI, npm_moniker, pypi_normalise, pypi_ultranormalise
from availability.snapshot import Snapshot, SnapshotStore
from availability.sources import names_from_file
from bench.common import artifacts_env, median_ms, p99_ms, pct, timed
from corpora import load_corpus
from models.catalog import make_lm
from models.like import like
from models.name_model import NameModel
from models.sampling import forward_filter, marginals
from store.availability import AvailabilityCache
from testkit.processes import http, running_stack
from testkit.registry_standin import RegistryStandin
from tnaas.redis_server import EmbeddedRedis

POOL = 100  # candidates per request (TNAAS_RERANK_POOL's default): the batch a worker checks at once
SIZES = {PYPI: 886_000, NPM: 3_800_000}  # roughly the registries' sizes (env package lists; all-the-package-names)
SEEDS = ["kafkas", "django", "hoopas", "pandas", "snorla", "bulbas"]


def rss_mib() -> float:
    """Peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


LOAD_SCRIPT = """
import sys, numpy as np
from availability.snapshot import SnapshotStore
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
before = rss()
snap = SnapshotStore(sys.argv[1]).load(sys.argv[2])
snap.possibly_free(["kafkify"] * 100)
print(rss() - before)
"""


def loaded_rss_mib(snap: Snapshot) -> float:
    """What a worker pays: resident MiB after loading the saved snapshot (memory-mapped) and one look-up."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        SnapshotStore(tmp).save(snap)
        out = subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT, tmp, snap.registry], capture_output=True, text=True, check=True
        )
    return float(out.stdout.strip())


def synthetic_names(n: int, rng: np.random.Generator, prefix: str = "") -> list[str]:
    """n distinct lowercase names of 3..24 characters with some '-', shaped like package names."""
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789--", dtype=np.uint8)
    out: set[str] = set()
    while len(out) < n:
        k = n - len(out)
        lengths = rng.integers(3, 25, k)
        raw = letters[rng.integers(0, len(letters), (k, 24))]
        raw[np.arange(24)[None, :] >= lengths[:, None]] = 0
        raw[:, 0] = letters[rng.integers(0, 26, k)]
        out.update(prefix + s for s in raw.view("S24").ravel().astype(str))
    return sorted(out)[:n]


def snapshot_figures(console: Console, lists: dict[str, list[str]], rng: np.random.Generator) -> None:
    table = Table(
        "registry",
        "names",
        "build s",
        "snapshot MiB",
        "worker RSS +MiB",
        "set RSS +MiB",
        "false-positive rate",
        f"look-ups/s (batch {POOL})",
        "look-ups/s (batch 100k)",
        "set look-ups/s (100k)",
        "single name us",
        title="snapshot: sorted 64-bit hashes vs a Python set of normalised keys",
    )
    for registry, names in lists.items():
        start = time.perf_counter()
        snap = Snapshot.build(registry, names, "bench")
        build = time.perf_counter() - start
        snap_rss = loaded_rss_mib(snap)
        absent = synthetic_names(50_000, rng, prefix="~~")  # no registry name has "~~": any hit is a hash collision
        queries = [names[i] for i in rng.integers(0, len(names), 50_000)] + absent
        rng.shuffle(queries)
        small = queries[:POOL]
        t_small = timed(lambda: snap.possibly_free(small), 300)
        t_big = timed(lambda: snap.possibly_free(queries), 5)
        t_one = timed(lambda: snap.possibly_free(small[:1]), 300)
        hits = int((~snap.possibly_free(absent)).sum())
        # the peer: the obvious structure, a set of each normalised key (same verdicts, no false positives)
        exact_rule, similar_rule = (pypi_normalise, pypi_ultranormalise) if registry == PYPI else (str, npm_moniker)
        gc.collect()
        before = current_rss_mib()  # the peer's memory: two sets of key strings, built in this process
        exact_set, similar_set = set(map(exact_rule, names)), set(map(similar_rule, names))
        set_rss = current_rss_mib() - before

        def set_lookup():
            return [exact_rule(q) not in exact_set and similar_rule(q) not in similar_set for q in queries]

        t_set = timed(set_lookup, 3)
        assert set_lookup() == snap.possibly_free(queries).tolist(), "snapshot and set disagree"
        table.add_row(
            registry,
            f"{len(names):,}",
            f"{build:.1f}",
            f"{snap.nbytes / 2**20:.1f}",
            f"{snap_rss:.0f}",
            f"{set_rss:.0f}",
            f"{snap.false_positive_rate:.1e} (measured: {hits} of {len(absent):,})",
            f"{POOL / (median_ms(t_small) / 1000):,.0f}",
            f"{len(queries) / (median_ms(t_big) / 1000):,.0f}",
            f"{len(queries) / (median_ms(t_set) / 1000):,.0f}",
            f"{1000 * median_ms(t_one):.0f}",
        )
    console.print(table)


def live_figures(console: Console) -> None:
    names = ["kafkify", "requests", "snorlaxy", "left-pad", "pikachoo"]
    table = Table(
        "registry stand-in",
        "names x registries",
        "median ms",
        "p99 ms",
        title="live check of the shown names (127.0.0.1 stand-in)",
    )
    snaps = {PYPI: Snapshot.build(PYPI, ["pip", "requests"]), NPM: Snapshot.build(NPM, ["npm", "left-pad"])}
    with (
        RegistryStandin(["pip", "requests"], ["npm", "left-pad"]) as standin,
        EmbeddedRedis(_tmpdir() / "redis") as redis_server,
    ):
        from redis import Redis

        ends = {
            PYPI: RegistryEndpoint(PYPI, standin.pypi_url, "bench"),
            NPM: RegistryEndpoint(NPM, standin.npm_url, "bench"),
        }
        live = LiveChecker(ends, timeout=2.0)
        cold = AvailabilityChecker(snaps, live, None, {PYPI: "pip", NPM: "npm"})
        t_cold = timed(lambda: cold.check(names, (PYPI, NPM)), 50)
        cache = AvailabilityCache(Redis.from_url(redis_server.url), ttl=3600)
        warm = AvailabilityChecker(snaps, live, cache, {PYPI: "pip", NPM: "npm"})
        warm.check(names, (PYPI, NPM))
        t_warm = timed(lambda: warm.check(names, (PYPI, NPM)), 200)
        live.close()
    with RegistryStandin(["pip"], ["npm"], mode="slow", delay=10.0) as slow:
        ends = {PYPI: RegistryEndpoint(PYPI, slow.pypi_url, "bench"), NPM: RegistryEndpoint(NPM, slow.npm_url, "bench")}
        live = LiveChecker(ends, timeout=0.5)
        t_slow = timed(
            lambda: AvailabilityChecker(snaps, live, None, {PYPI: "pip", NPM: "npm"}).check(names, (PYPI, NPM)), 5
        )
        live.close()
    table.add_row(
        "answering, no cache (every name + 2 canaries asked)",
        f"{len(names)} x 2",
        f"{median_ms(t_cold):.1f}",
        f"{p99_ms(t_cold):.1f}",
    )
    table.add_row(
        "answering, Redis cache warm", f"{len(names)} x 2", f"{median_ms(t_warm):.2f}", f"{p99_ms(t_warm):.2f}"
    )
    table.add_row(
        "slow (10 s), timeout 0.5 s: all unknown",
        f"{len(names)} x 2",
        f"{median_ms(t_slow):.0f}",
        f"{p99_ms(t_slow):.0f}",
    )
    console.print(table)


def _tmpdir():
    import tempfile

    return Path(tempfile.mkdtemp(prefix="bench-availability-"))


def walk_with_completion(model: NameModel, seed: str, size: int, rng: np.random.Generator) -> set[str]:
    """The peer: the same walk, one walker at a time, each substitution/insertion conditional taken from
    forward filtering a pattern with one '*' (what completion does), deletions scored name by name."""
    a = model.automaton_
    p = np.r_[model.length_prior_.probs_, 0.0]
    found: set[str] = set()
    for _ in range(size):
        name = seed
        for _ in range(3):
            L = len(name)
            w = np.array([p[L], p[L + 1] if model.max_len > L else 0.0, p[L - 1] if L > 1 else 0.0])
            kind = rng.choice(3, p=w / w.sum())
            if kind == 2:
                left = [name[:j] + name[j + 1 :] for j in range(L)]
                lp = model.log_probs(left)
                q = np.exp(lp - lp.max())
                name = left[rng.choice(L, p=q / q.sum())]
            else:
                pos = int(rng.integers(0, L + kind))
                pattern = name[:pos] + "*" + name[pos + (1 - kind) :]
                ids = np.array([-1 if c == "*" else a.alphabet.id(c) for c in pattern])
                q = marginals(forward_filter(a, ids), a.n_symbols)[pos, 1:].copy()
                if kind == 0:
                    q[a.alphabet.id(name[pos]) - 1] = 0.0
                if q.sum() > 0:
                    name = pattern[:pos] + a.alphabet.char(rng.choice(len(q), p=q / q.sum()) + 1) + pattern[pos + 1 :]
            if name != seed and name not in model.known_:
                found.add(name)
    return found


def like_figures(console: Console, rng: np.random.Generator) -> None:
    table = Table(
        "corpus",
        "model",
        "seed",
        f"like median ms (pool {POOL})",
        "p99 ms",
        "distinct names",
        "peer: per-walker completion median ms",
        "speed-up",
        title="like: names 1-3 edits from a 6-letter seed",
    )
    for corpus in ["pypi", "pokemon"]:
        model = NameModel(make_lm("kn5"), corpus).fit(load_corpus(corpus))
        for seed in SEEDS[:3] if corpus == "pypi" else SEEDS[3:]:
            times = timed(lambda: like(model, seed, POOL, rng), 100)
            peer = timed(lambda: walk_with_completion(model, seed, POOL, rng), 5)
            table.add_row(
                corpus,
                "kn5",
                seed,
                f"{median_ms(times):.2f}",
                f"{p99_ms(times):.2f}",
                str(len(like(model, seed, POOL, rng))),
                f"{median_ms(peer):.0f}",
                f"{median_ms(peer) / median_ms(times):.0f}x",
            )
    console.print(table)


def pipeline_figures(console: Console) -> None:
    """`like` and plain generation through the request pipeline a worker runs (ranking included), side by
    side, on the models `tnaas train` left in TNAAS_ARTIFACTS_DIR (skipped when there are none)."""
    from core.settings import get_settings
    from jobs.contracts import GenerateRequest, LikeRequest
    from jobs.pipeline import answer
    from models.registry import ModelRegistry

    settings = get_settings()
    models = ModelRegistry(settings.artifacts_dir)
    corpora = [c for c in ("pypi", "pokemon") if models.trained_models(c)]
    if not corpora:
        console.print(f"pipeline: no trained models in {settings.artifacts_dir} (run `tnaas train`): skipped")
        return
    table = Table(
        "corpus",
        "model",
        "request",
        "median ms",
        "p99 ms",
        title=f"inside the worker: the pipeline (pool {settings.rerank_pool}, ranking included, no live checks)",
    )
    for corpus in corpora:
        model = (
            settings.default_model
            if settings.default_model in models.trained_models(corpus)
            else models.trained_models(corpus)[0]
        )
        models.get(corpus, model)  # loaded once, as a worker does
        for label, request in [
            ("generate 5", GenerateRequest(corpus=corpus, model=model, n=5, seed=1)),
            (
                "like <6 letters> 5",
                LikeRequest(name=SEEDS[0] if corpus == "pypi" else SEEDS[3], corpus=corpus, model=model, n=5, seed=1),
            ),
        ]:
            times = timed(lambda request=request: answer(request, models, None, settings, None), 30)
            table.add_row(corpus, model, label, f"{median_ms(times):.1f}", f"{p99_ms(times):.1f}")
    console.print(table)


SECRET = "bench-signing-secret"
STACK_REPEATS = 3  # each request kind, with the cache expired between (TNAAS_AVAILABILITY_TTL=1)
LIFTED = {"TNAAS_AVAILABILITY_CALLER_BURST": 10**6, "TNAAS_AVAILABILITY_STACK_BURST": 10**6}  # one bound at a time


def stack_figures(console: Console, baselines: list[str]) -> None:
    """Registry calls per request kind, and what a 3-second registry does to unrelated requests, on each
    checkout's stack; side by side."""
    calls = Table("request", *[_label(c) for c in [*baselines, None]], title="registry calls per request (median)")
    waits = Table(
        "while the registry answers in 3 s",
        *[_label(c) for c in [*baselines, None]],
        title="an unrelated request (detect) while other requests ask a 3-second registry: ms",
    )
    columns = [(_calls(cwd), _slow(cwd)) for cwd in [*baselines, None]]
    for row in columns[0][0]:
        calls.add_row(row, *[c[row] for c, _ in columns])
    for row in columns[0][1]:
        waits.add_row(row, *[w[row] for _, w in columns])
    console.print(calls)
    console.print(waits)


def _label(cwd: str | None) -> str:
    return f"baseline ({Path(cwd).name})" if cwd else "this checkout"


@contextmanager
def _stack(cwd: str | None, registry: RegistryStandin, slack, **env):
    stack_env = artifacts_env(cwd) | {
        "TNAAS_PYPI_INDEX_URL": registry.pypi_url,
        "TNAAS_NPM_REGISTRY_URL": registry.npm_url,
        "TNAAS_AVAILABILITY_DIR": str(_tmpdir() / "no-snapshot"),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "TNAAS_SLACK_API_URL": slack.url,
    }
    with running_stack(stack_env | {k: str(v) for k, v in env.items()}, workers=2, cwd=cwd, tcp=True) as base:
        yield base


def _calls(cwd: str | None) -> dict[str, str]:
    """Calls per request kind with the caller's and the stack's budgets lifted (what bounds one request),
    then 20 checks at once from one address with the budgets as they ship, each on a stack of its own."""
    from testkit.slack_standin import SlackStandIn

    out: dict[str, str] = {}
    with (
        RegistryStandin(["pip", "requests"], ["npm", "left-pad"]) as registry,
        SlackStandIn(minute=1e-3) as slack,
        _stack(cwd, registry, slack, TNAAS_AVAILABILITY_TTL=1, **LIFTED) as base,
    ):
        _api(base, "detect", text="warm up")

        def counted(send) -> int:
            time.sleep(1.1)  # the cache's answers expire: every request pays its own calls
            before = len(registry.requests)
            send()
            time.sleep(0.3)  # a background probe or a late answer would still count
            return len(registry.requests) - before

        seeds = iter(range(1000, 2000))
        kinds = {
            "API generate pokemon 20": lambda: _api(base, "generate", corpus="pokemon", n=20, seed=next(seeds)),
            "API generate pokemon 20 free": lambda: _api(
                base, "generate", corpus="pokemon", n=20, free=True, seed=next(seeds)
            ),
            "API check 20 names": lambda: _api(base, "check", names=[f"zq{next(seeds)}x{i}" for i in range(20)]),
            "Slack pokemon 10 free": lambda: _slash(base, slack, "pokemon 10 free", next(seeds)),
        }
        for label, send in kinds.items():
            out[label] = f"{statistics.median(counted(send) for _ in range(STACK_REPEATS)):.0f}"
    with (
        RegistryStandin(["pip", "requests"], ["npm", "left-pad"]) as registry,
        SlackStandIn(minute=1e-3) as slack,
        _stack(cwd, registry, slack) as base,
    ):
        _api(base, "detect", text="warm up")
        start = time.perf_counter()
        with ThreadPoolExecutor(20) as pool:
            list(pool.map(lambda i: _api(base, "check", names=[f"zr{i}x{j}" for j in range(20)]), range(20)))
        spent = time.perf_counter() - start
        out["20 checks of 20 names from one address at once (budgets as shipped)"] = (
            f"{len(registry.requests)} in {spent:.1f} s"
        )
    return out


def _slow(cwd: str | None, seconds: float = 20.0) -> dict[str, str]:
    """detect requests one after another for ``seconds`` while two clients keep sending generate requests
    whose fresh names need the registry, which answers in 3 s (budgets lifted: the breaker and the
    deadline alone)."""
    from testkit.slack_standin import SlackStandIn

    with (
        RegistryStandin(["pip"], ["npm"], mode="slow", delay=3.0) as registry,
        SlackStandIn(minute=1e-3) as slack,
        _stack(cwd, registry, slack, **LIFTED) as base,
    ):
        _api(base, "detect", text="warm up")
        quiet = timed(lambda: _api(base, "detect", text="snorlax"), 20)
        stop, seeds = threading.Event(), iter(range(5000, 100000))

        def asking() -> None:
            while not stop.is_set():
                _api(base, "generate", corpus="pokemon", n=5, seed=next(seeds))

        askers = [threading.Thread(target=asking, daemon=True) for _ in range(2)]
        for t in askers:
            t.start()
        time.sleep(0.2)
        waits, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            waits += timed(lambda: _api(base, "detect", text="snorlax"), 1)
            time.sleep(0.1)
        stop.set()
        for t in askers:
            t.join(30)
    return {
        "detect, registry not asked by anyone (median)": f"{median_ms(quiet):.0f}",
        "detect, meanwhile (median)": f"{median_ms(waits):.0f}",
        "detect, meanwhile (p90)": f"{pct(waits, 0.9):.0f}",
        "detect requests measured": str(len(waits)),
    }


def _api(base: str, route: str, **body) -> dict:
    """The answer, polled for when the API's wait was not enough (a busy stack answers later)."""
    status, _, answer = http("POST", f"{base}/api/v1/{route}", body)
    while status == 202:
        time.sleep(0.1)
        status, _, answer = http("GET", f"{base}{answer['poll']}")
    assert status == 200, answer
    return answer


def _slash(base: str, slack, text: str, i: int) -> None:
    """One signed slash command, returned once its candidates are posted in the thread."""
    from testkit.processes import wait_until
    from testkit.slack_standin import signed_post, slash_form

    before = len(slack.called("chat.postMessage"))
    status, _ = signed_post(
        f"{base}/slack/events",
        slash_form(text, user=f"U{i}", channel=f"C{i}"),
        "application/x-www-form-urlencoded",
        SECRET,
    )
    assert status == 200
    wait_until(
        lambda: any("thread_ts" in p for p in slack.called("chat.postMessage")[before:]),
        timeout=60,
        what="the reply",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pypi", help="file of PyPI names (default: synthetic, 886k)")
    parser.add_argument("--npm", help="file of npm names (default: synthetic, 3.8M)")
    parser.add_argument(
        "--npm-scale", type=int, default=0, help="pad the npm list with synthetic names up to this many"
    )
    parser.add_argument("--skip-snapshot", action="store_true")
    parser.add_argument("--only", choices=["calls"], help="only the stack's registry calls and slow-registry latency")
    parser.add_argument("--baseline", action="append", default=[], help="with --only calls: another checkout first")
    args = parser.parse_args()
    console = Console(width=200)
    if args.only == "calls":
        stack_figures(console, args.baseline)
        return
    rng = np.random.default_rng(0)
    if not args.skip_snapshot:
        lists = {}
        for registry, path in ((PYPI, args.pypi), (NPM, args.npm)):
            names = names_from_file(path) if path else synthetic_names(SIZES[registry], rng)
            if registry == NPM and args.npm_scale > len(names):
                names += synthetic_names(args.npm_scale - len(names), rng, prefix="zz")
            lists[registry] = names
        console.print(
            "name lists: "
            + ", ".join(
                f"{r} {len(n):,} ({p or 'synthetic'})" for (r, n), p in zip(lists.items(), (args.pypi, args.npm))
            )
        )
        snapshot_figures(console, lists, rng)
    live_figures(console)
    like_figures(console, rng)
    pipeline_figures(console)
    console.print(f"peak RSS {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
