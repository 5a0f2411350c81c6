"""The terminal: `tnaas up`'s few lines, its taken ports and its stop; the command line's imports, quiet,
limits, help and answers. Real processes throughout: `tnaas` subprocesses, a real redis-server."""

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker

from core.limits import STACK_STOP_SECONDS
from testkit.processes import SupervisorLog, free_port_run, http, stop_process, tnaas_env, wait_until
from tnaas.redis_server import free_port

HEAVY = ("numpy", "redis", "sklearn", "scipy", "httpx", "pydantic_settings", "rich.markdown")


def tnaas(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tnaas", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def imported(*args: str, env: dict) -> set[str]:
    """The modules ``tnaas ARGS`` imports, as Python's -X importtime lists them."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tnaas", *args], capture_output=True, text=True, env=env, timeout=60
    )
    return {m.group(1) for m in re.finditer(r"^import time:.*\|\s+(\S+)$", out.stderr, re.MULTILINE)}


@pytest.fixture
def untrained(tmp_path):
    """Artifacts that look trained to `tnaas up`'s first check, for what happens before any model loads."""
    (tmp_path / "artifacts" / "cats").mkdir(parents=True)
    (tmp_path / "artifacts" / "cats" / "kn3.npz").write_bytes(b"")
    return tmp_path / "artifacts"


@pytest.fixture
def listening():
    """A loopback port another program holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


# -- the command line without models ---------------------------------------------------------------------
@pytest.mark.parametrize("args", [["--help"], ["generate", "--help"], ["check", "--help"]])
def test_help_imports_nothing_heavy(untrained, args):
    loaded = imported(*args, env=tnaas_env(untrained))
    heavy = HEAVY + (("pydantic",) if args == ["--help"] else ())  # typer reads a command's options with pydantic
    assert "typer" in loaded and not {m for m in loaded if m.split(".")[0] in heavy or m in heavy}


def test_help_fits_80_columns_names_every_option_whole_and_shows_values(untrained):
    env = tnaas_env(untrained, COLUMNS=80)
    for command in (["--help"], ["generate", "--help"], ["complete", "--help"], ["like", "--help"]):
        out = tnaas(*command, env=env)
        assert out.returncode == 0 and max(map(len, out.stdout.splitlines())) <= 80, out.stdout
    generate = tnaas("generate", "--help", env=env).stdout
    assert "1 to 20, default 5" in generate and "TNAAS_" not in generate
    for option in ("--model", "--seed", "--free", "--include-known", "--raw", "--walk", "--json"):
        assert re.search(rf"^\s+(-\w, )?{option}\b", generate, re.MULTILINE), option
    raised = tnaas("generate", "--help", env=env | {"TNAAS_MAX_N": "30"}).stdout
    assert "1 to 30" in raised


@pytest.mark.parametrize("n", ["0", "21", "-1"])
def test_n_outside_1_to_the_maximum_is_refused_as_the_api_refuses_it(untrained, n):
    out = tnaas("generate", "cats", "-n", n, env=tnaas_env(untrained))
    assert out.returncode == 2 and f"between 1 and 20 names at a time, not {n}" in out.stderr
    assert out.stdout == "" and "Traceback" not in out.stderr


def test_corpora_are_listed_as_generation_corpora_and_judge_only_ones(untrained):
    out = tnaas("corpora", env=tnaas_env(untrained))
    generation, judge_only = out.stdout.split("Judge-only corpora")
    assert "pokemon" in generation and "debian" not in generation and "pypi-words" not in generation
    assert "debian" in judge_only and "pypi-words" in judge_only
    rows = json.loads(tnaas("corpora", "--json", env=tnaas_env(untrained)).stdout)
    assert {r["corpus"]: r["role"] for r in rows}["debian"] == "judge"
    refused = tnaas("generate", "debian", env=tnaas_env(untrained))
    assert refused.returncode == 2 and "debian" in refused.stderr


def test_models_answer_in_json(untrained):
    rows = json.loads(tnaas("models", "--json", env=tnaas_env(untrained)).stdout)
    assert {"model", "description", "default"} <= set(rows[0]) and any(r["default"] for r in rows)


# -- the command line with models ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(trained_artifacts):
    return tnaas_env(trained_artifacts, TNAAS_DEFAULT_CORPUS="pokemon")


def test_generate_is_quiet_by_default_and_says_what_it_does_with_v(env):
    quiet = tnaas("generate", "pokemon", "-m", "kn3", "--seed", "3", env=env)
    assert quiet.returncode == 0 and quiet.stderr == ""
    lines = quiet.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["1.", "2.", "3.", "4.", "5."] and all(
        len(ln.split()) == 2 for ln in lines
    )
    verbose = tnaas("-v", "generate", "pokemon", "-m", "kn3", "--seed", "3", env=env)
    assert verbose.stdout == quiet.stdout and "model kn3 (version" in verbose.stderr


def test_answers_in_json_are_the_api_s(env):
    names = json.loads(tnaas("generate", "pokemon", "-m", "kn3", "-n", "3", "--json", env=env).stdout)
    assert names["kind"] == "names" and len(names["candidates"]) == 3 and names["model"] == "kn3"
    done = json.loads(tnaas("complete", "p*ka", "-m", "kn3", "--json", env=env).stdout)
    assert all(c["name"][0] == "p" and c["name"][2:] == "ka" for c in done["candidates"])
    said = json.loads(tnaas("is", "snorlax", "--json", env=env).stdout)
    assert said["is_name"] and "pokemon" in said["real_in"]


def test_a_text_s_answer_leads_with_its_language_a_name_s_with_its_corpora(env):
    text = tnaas("lang", "Det här är svenska", env=env)
    assert text.returncode == 0 and text.stdout.splitlines()[0].startswith("language: Swedish"), text.stdout
    name = tnaas("is", "snorlax", env=env)
    assert name.stdout.splitlines()[0].startswith("snorlax is a real name in:")


def test_free_keeps_only_names_the_registry_does_not_have_or_says_why_not(env):
    out = tnaas("generate", "pokemon", "-m", "kn3", "--free", "--json", env=env)
    # the registries are a closed port here: no name can be confirmed free, and the answer says so
    reply = json.loads(out.stdout)
    assert out.returncode == 0 and reply["free"] and reply["candidates"] == [] and reply["note"]


# -- tnaas up ----------------------------------------------------------------------------------------------
def test_up_on_a_taken_port_is_one_error_naming_the_port_and_the_setting(untrained, listening, tmp_path):
    env = tnaas_env(untrained, TNAAS_PORT=listening, TNAAS_DATA_DIR=tmp_path / "data")
    out = tnaas("up", env=env, timeout=60)
    assert out.returncode == 2
    said = (out.stdout + out.stderr).strip()
    assert f"Port {listening}" in said and "TNAAS_PORT" in said and len(said.splitlines()) == 1, said
    assert not (tmp_path / "data" / "redis").exists()  # nothing was started


def test_web_on_a_taken_port_exits_with_ex_config_naming_the_setting(untrained, listening):
    out = tnaas("web", env=tnaas_env(untrained, TNAAS_PORT=listening, PORT=listening), timeout=60)
    assert out.returncode == 78 and f"Port {listening}" in out.stderr and "set PORT" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_worker_whose_metrics_port_is_taken_warns_and_runs_on_and_metrics_bind_loopback(
    trained_artifacts, redis_server, listening
):
    env = tnaas_env(trained_artifacts, REDIS_URL=redis_server.url, TNAAS_METRICS_PORT=listening)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = SupervisorLog(worker)
    try:
        wait_until(
            lambda: (
                any(w.pid == worker.pid for w in Worker.all(connection=Redis.from_url(redis_server.url)))
                or worker.poll()
            ),
            timeout=90,
            what="the worker to register",
        )
        assert worker.poll() is None, log.read()
        assert f"port {listening} on 127.0.0.1 is taken" in log.read() and "the worker runs on" in log.read()
    finally:
        stop_process(worker)
    port = free_port()
    bound = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "worker"],
        env=env | {"TNAAS_METRICS_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: _listening_on(port), timeout=90, what="the metrics server") == {"127.0.0.1"}
    finally:
        stop_process(bound)


def _listening_on(port: int) -> set[str]:
    """The addresses something listens on at this TCP port, from /proc/net/tcp (IPv4)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_up_says_what_it_starts_then_one_ready_line_and_stops_within_its_budget(trained_artifacts, tmp_path):
    port = free_port_run(3)
    env = tnaas_env(trained_artifacts, TNAAS_PORT=port, TNAAS_DATA_DIR=tmp_path / "data", TNAAS_WORKERS=2)
    env.pop("TNAAS_LOG_LEVEL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "tnaas", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = SupervisorLog(up)
    try:
        wait_until(lambda: "ready: " in log.read(), timeout=120, what="the ready line")
        time.sleep(2)  # what the stack says once up (the scheduler's first upkeep jobs, say)
        said = log.read()
        base = f"http://127.0.0.1:{port}"
        assert f"ready: the page {base}/, the API {base}/api/v1" in said
        assert said.index("starting embedded Redis") < said.index(f"the web process on 127.0.0.1:{port}")
        for chatter in ("Memory overcommit", "Listening on", "Subscribing", "Started server process", "HTTP Request"):
            assert chatter not in said, chatter
        assert len(said.splitlines()) <= 12, said
    finally:
        start = time.monotonic()
        up.send_signal(signal.SIGTERM)
        up.wait(30)
        stopped_in = time.monotonic() - start
    assert up.returncode == 0 and stopped_in < STACK_STOP_SECONDS + 1.5, (stopped_in, log.read_all())
    assert "stopped" in log.read_all()


def test_sigterm_stops_a_stack_with_registry_checks_in_flight_within_its_budget_answering_the_request(
    trained_artifacts, tmp_path
):
    """A registry that never answers holds a worker's job for its whole timeout: the stack still stops
    within its budget, and the API request waiting on that job is answered (with its id to poll)."""
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        registry = f"http://127.0.0.1:{silent.getsockname()[1]}"
        port = free_port_run(2)
        env = tnaas_env(
            trained_artifacts,
            TNAAS_PORT=port,
            TNAAS_DATA_DIR=tmp_path / "data",
            TNAAS_WORKERS=1,
            TNAAS_PYPI_INDEX_URL=f"{registry}/simple/",
            TNAAS_NPM_REGISTRY_URL=f"{registry}/npm/",
            TNAAS_AVAILABILITY_TIMEOUT=25,
            TNAAS_API_WAIT=20,
        )
        up = subprocess.Popen(
            [sys.executable, "-m", "tnaas", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        log = SupervisorLog(up)
        answered: list = []
        try:
            wait_until(lambda: "ready: " in log.read(), timeout=120, what="the ready line")
            asking = threading.Thread(
                target=lambda: answered.append(
                    http("POST", f"http://127.0.0.1:{port}/api/v1/check", {"names": ["kafkify-tnaas"]})
                ),
                daemon=True,
            )
            asking.start()
            time.sleep(2)  # the worker has taken the job and waits on the silent registry
            assert not answered
        finally:
            start = time.monotonic()
            up.send_signal(signal.SIGTERM)
            up.wait(60)
            stopped_in = time.monotonic() - start
        asking.join(10)
    assert stopped_in < STACK_STOP_SECONDS + 1.5, (stopped_in, log.read_all())
    status, _, body = answered[0]
    assert status in (200, 202) and "answer_id" in str(body), (status, body)
