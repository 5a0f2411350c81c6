"""The deployment files as an operator uses them: the compose file against the Compose Specification,
the Dockerfile linted and checked for what a build relies on, and the Procfile brought up by a real
Procfile runner (honcho) to a healthy stack. Docker itself does not run here; everything else does."""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.request
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from core.settings import Settings
from testkit.processes import http, stop_process, wait_until
from tnaas.redis_server import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TNAAS_SERVICES = ("train", "web", "worker", "scheduler")


# -- docker-compose.yml -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def compose_validator():
    """The Compose Specification's JSON schema, as vendored (with its license) by check-jsonschema."""
    schema = json.loads(
        (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text("utf-8")
    )
    return jsonschema.validators.validator_for(schema)(schema)


def test_the_compose_file_follows_the_compose_specification(compose, compose_validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in compose_validator.iter_errors(compose)]
    assert errors == []
    broken = copy.deepcopy(compose)
    broken["services"]["web"]["depends_on"]["train"]["condition"] = "service_done"
    assert not compose_validator.is_valid(broken)  # the schema does catch a wrong value


def test_compose_builds_one_image_and_shares_the_artifacts_every_process_reads(compose):
    services = compose["services"]
    assert [name for name, s in services.items() if "build" in s] == ["train"]
    image = services["train"]["image"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    artifacts = re.search(r"TNAAS_ARTIFACTS_DIR=(\S+)", dockerfile)[1]
    data = re.search(r"TNAAS_DATA_DIR=(\S+)", dockerfile)[1]  # the reranker a worker trains: the web's too
    for name in TNAAS_SERVICES:
        assert services[name]["image"] == image, name
        assert any(v.split(":")[:2] == ["artifacts", artifacts] for v in services[name]["volumes"]), name
        assert any(v.split(":")[:2] == ["data", data] for v in services[name]["volumes"]), name
    assert "artifacts" in compose["volumes"] and "data" in compose["volumes"]
    assert services["train"]["command"] == ["tnaas", "train"]
    for name in ("web", "worker", "scheduler"):
        assert services[name]["depends_on"]["train"] == {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_compose_restarts_what_should_run_and_keeps_secrets_and_ports_in_hand(compose):
    services = compose["services"]
    for name in ("redis", "web", "worker", "scheduler"):
        assert services[name]["restart"] in ("unless-stopped", "always"), name
    assert services["train"]["restart"] == "no"
    assert "--appendonly" in services["redis"]["command"] and "redis-data" in services["redis"]["volumes"][0]
    assert not any("env_file" in s for s in services.values())  # its optional form needs Compose >= 2.24
    (published,) = services["web"]["ports"]
    assert re.fullmatch(r"\$\{TNAAS_PUBLISH:-127\.0\.0\.1:8000\}:8000", published)  # loopback unless asked
    environment = services["web"]["environment"]
    assert environment["TNAAS_API_TOKEN"] == "${TNAAS_API_TOKEN:-}"
    assert services["worker"]["environment"]["TNAAS_METRICS_PORT"] == "9100"


# -- Dockerfile and .dockerignore -------------------------------------------------------------------
def test_the_dockerfile_lints_clean():
    out = subprocess.run([BIN / "hadolint", ROOT / "Dockerfile"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_dockerfile_installs_dependencies_before_code_and_runs_as_a_user():
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [ln for ln in lines if ln and not ln.startswith("#")]
    first_code_copy = next(i for i, ln in enumerate(instructions) if ln.startswith("COPY") and "pyproject" not in ln)
    deps = next(i for i, ln in enumerate(instructions) if "pip install -r" in ln)
    train = next(i for i, ln in enumerate(instructions) if "tnaas train" in ln)
    copy_all = instructions.index("COPY . .")
    assert deps < first_code_copy < train < copy_all  # a code edit outside models/ neither reinstalls nor retrains
    users = [ln.split()[1] for ln in instructions if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(ln.startswith("HEALTHCHECK") and "tnaas.probe" in ln for ln in instructions)


def _module_file(dotted: str) -> Path | None:
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_at_load(path: Path) -> set[str]:
    """Our modules that importing ``path`` imports (its module-level imports, not those inside functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            if isinstance(sub, ast.Import):
                found |= {a.name for a in sub.names}
            elif isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module:
                found |= {sub.module} | {f"{sub.module}.{a.name}" for a in sub.names}
    dotted = {m for m in found if _module_file(m)}
    return dotted | {".".join(m.split(".")[: i + 1]) for m in dotted for i in range(m.count("."))}


def test_the_dockerfile_copies_everything_its_training_step_imports():
    """`RUN python -m tnaas train` runs before `COPY . .`: every package `tnaas` imports must be copied first."""
    instructions = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    train = next(i for i, ln in enumerate(instructions) if "tnaas train" in ln and ln.startswith("RUN"))
    copied = {ln.split()[1].strip("/") for ln in instructions[:train] if ln.startswith("COPY ")}
    seen, todo = set(), ["tnaas.__main__", "tnaas.cli"]
    while todo:
        module = todo.pop()
        if module not in seen and (path := _module_file(module)):
            seen.add(module)
            todo += sorted(_imported_at_load(path) - seen)
    assert {m.split(".")[0] for m in seen} <= copied


def test_the_dockerfile_reads_exactly_the_core_dependencies(tmp_path):
    """Run the Dockerfile's own requirements step: it must list pyproject's dependencies, no more."""
    text = (ROOT / "Dockerfile").read_text()
    command = re.search(r'python -c "(.+?)"', text)[1]
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    out = subprocess.run([sys.executable, "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert out.stdout.split("\n")[:-1] == expected


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.removeprefix("**/")) for p in prefixes for pat in patterns
    )


def test_secrets_and_local_state_stay_out_of_the_image():
    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip()[:1] not in "#"]
    for path in (".env", ".env.production", "artifacts/pokemon/kn5.npz", "data/redis/appendonly.aof", ".venv/bin"):
        assert _ignored(path, patterns), path
    for path in ("pyproject.toml", "tnaas/cli.py", "corpora/pokemon.txt", "bot/static/index.html", "Procfile"):
        assert not _ignored(path, patterns), path


# -- $PORT and the bind address ---------------------------------------------------------------------
def test_a_platform_port_is_honoured_and_opens_the_web_process_to_its_router(monkeypatch):
    for name in ("PORT", "TNAAS_PORT", "TNAAS_HOST", "TNAAS_METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    local = Settings(_env_file=None)
    assert (local.web_host, local.web_port, local.worker_metrics_port) == ("127.0.0.1", 8000, None)
    monkeypatch.setenv("PORT", "5123")
    platform = Settings(_env_file=None)
    assert (platform.web_host, platform.web_port, platform.worker_metrics_port) == ("0.0.0.0", 5123, 5123)
    monkeypatch.setenv("TNAAS_HOST", "127.0.0.1")
    monkeypatch.setenv("TNAAS_METRICS_PORT", "9100")
    chosen = Settings(_env_file=None)
    assert (chosen.web_host, chosen.web_port, chosen.worker_metrics_port) == ("127.0.0.1", 5123, 9100)


# -- the Procfile under a Procfile runner -----------------------------------------------------------
def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _honcho_base_port() -> int:
    """honcho gives process type k the port base + 100 k: find a base where all three are free."""
    for _ in range(50):
        base = free_port()
        if base < 60000 and all(_free(base + 100 * k) for k in range(3)):
            return base
    raise AssertionError("no free ports for honcho")


def test_the_procfile_runs_a_healthy_stack_under_honcho(trained_artifacts, tmp_path):
    """As written, from a directory that is not the checkout: web on $PORT, a worker, the scheduler;
    JSON logs in which a request's id follows it into the worker, and no payload in them."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "Procfile", app)
    base = _honcho_base_port()
    log_path = tmp_path / "honcho.log"
    with EmbeddedRedis(tmp_path / "redis") as redis_server, log_path.open("w") as log:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TNAAS_", "SLACK_"))} | {
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "REDIS_URL": redis_server.url,
            "TNAAS_ARTIFACTS_DIR": str(trained_artifacts),
            "TNAAS_DATA_DIR": str(tmp_path / "data"),
            "TNAAS_HOST": "127.0.0.1",  # $PORT alone would open it to every interface: not in a test
            "TNAAS_LOG_FORMAT": "json",
            "TNAAS_DEFAULT_MODEL": "kn3",
            "TNAAS_UPKEEP_INTERVAL": "3600",
        }
        runner = subprocess.Popen(
            [BIN / "honcho", "start", "--no-colour", "-f", "Procfile", "-p", str(base)],
            cwd=app,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        web = f"http://127.0.0.1:{base}"
        try:
            wait_until(lambda: _healthy(web) or runner.poll() is not None, timeout=120, what="a healthy /healthz")
            assert runner.poll() is None, log_path.read_text()[-3000:]
            status, _, body = http(
                "POST",
                f"{web}/api/v1/detect",
                {"text": "zebrafinchsentinel", "client": "U-SENTINEL-42"},
                headers={"X-Request-ID": "req-procfile-0001"},
            )
            assert status == 200 and body["sounds_like"]["text"] == "zebrafinchsentinel"
            finished = 'tnaas_jobs_total{kind="answer_web_batch",outcome="finished"} 1.0'
            # The worker serves its metrics on its own $PORT; it counts the job just after the answer went out.
            wait_until(lambda: finished in _scrape(base + 100), timeout=10, what="the worker to count the job")
        finally:
            os.kill(runner.pid, signal.SIGTERM)  # honcho stops its processes, then exits
            try:
                runner.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(runner)
    output = log_path.read_text()
    pids = [int(p) for p in re.findall(r"started \(pid=(\d+)\)", output)]
    assert len(pids) == 3, output[-2000:]  # web, worker, scheduler
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    records = [_json_record(line) for line in output.splitlines()]
    tagged = [(proc, r) for proc, r in records if r and r.get("request_id") == "req-procfile-0001"]
    assert {proc for proc, _ in tagged} == {"web", "worker"}, output[-3000:]
    assert any(r["message"].startswith("POST /api/v1/detect 200") for proc, r in tagged if proc == "web")
    assert "zebrafinchsentinel" not in output and "U-SENTINEL-42" not in output  # no payload in the logs


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def _healthy(base: str) -> bool:
    try:
        status, _, report = http("GET", f"{base}/healthz")
    except OSError:
        return False
    return status == 200 and len(report["workers"]) == 1


def _json_record(line: str) -> tuple[str, dict | None]:
    """honcho's ``HH:MM:SS web.1 | {...}`` -> ("web", the JSON record), or (name, None) for other lines."""
    match = re.match(r"^\S+ (\w+)\.\d+\s+\| (.*)$", line)
    if not match:
        return "", None
    try:
        record = json.loads(match[2])
    except ValueError:
        return match[1], None
    return match[1], record if isinstance(record, dict) else None
