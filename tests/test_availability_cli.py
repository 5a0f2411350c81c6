"""`tnaas availability refresh|status` and `tnaas check` as a user runs them, against the local stand-in."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from availability.config import npm_registry_url, pip_index_url, resolve
from availability.rules import NPM, PYPI
from availability.snapshot import SnapshotStore
from testkit.processes import tnaas_env
from testkit.registry_standin import RegistryStandin

PYPI_NAMES = ["pip", "requests", "Django", "zope.interface"]
NPM_NAMES = ["npm", "left-pad", "react-native", "@babel/core"]


def tnaas(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "tnaas", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture
def standin():
    with RegistryStandin(PYPI_NAMES, NPM_NAMES) as server:
        yield server


@pytest.fixture
def env(tmp_path, standin):
    return tnaas_env(
        tmp_path / "artifacts", TNAAS_PYPI_INDEX_URL=standin.pypi_url, TNAAS_NPM_REGISTRY_URL=standin.npm_url
    )


def checked(env, *names):
    out = tnaas(env, "check", "--json", *names)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    return {r["name"]: (r["pypi"]["verdict"], r["npm"]["verdict"]) for r in rows}


def test_refresh_then_check(env, tmp_path):
    names = tmp_path / "npm-names.json"
    names.write_text(json.dumps(NPM_NAMES))
    out = tnaas(env, "availability", "refresh", "pypi")
    assert out.returncode == 0 and "pypi: 4 names" in out.stdout, out.stdout + out.stderr
    out = tnaas(env, "availability", "refresh", "npm", "--from", str(names))
    assert out.returncode == 0 and "npm: 4 names" in out.stdout, out.stdout + out.stderr
    status = tnaas(env, "availability", "status")
    assert "pypi" in status.stdout and "npm-names.json" in status.stdout
    assert "fresh" in status.stdout and "s ago" in status.stdout
    got = checked(env, "requests", "kafkify", "leftpad", "os", "Django")
    assert got == {
        "requests": ("taken", "free"),
        "kafkify": ("free", "free"),
        "leftpad": ("free", "not allowed"),
        "os": ("not allowed", "not allowed"),
        "Django": ("taken", "not allowed"),
    }


def test_check_table_says_why(env):
    out = tnaas(env, "check", "os", "kafkify")
    assert out.returncode == 0
    assert "standard-library" in out.stdout and "core module" in out.stdout
    # no snapshot yet: the registries' 404 reads "not registered", and the table says what was not checked
    assert "not registered" in out.stdout and "availability refresh" in out.stdout
    got = checked(env, "kafkify")
    assert got == {"kafkify": ("not registered", "not registered")}
    status = tnaas(env, "availability", "status")
    assert "none" in status.stdout and "availability refresh" in status.stdout


def test_offline_check_never_says_free(env, tmp_path):
    names = tmp_path / "pypi.txt"
    names.write_text("\n".join(PYPI_NAMES))
    assert tnaas(env, "availability", "refresh", "pypi", "--from", str(names)).returncode == 0
    got = checked(env | {"TNAAS_PYPI_INDEX_URL": "http://127.0.0.1:9/"}, "requests", "kafkify")
    assert got["requests"][0] == "taken" and got["kafkify"][0] == "unknown"
    out = tnaas(env, "check", "--offline", "--json", "kafkify")
    assert json.loads(out.stdout)["pypi"]["verdict"] == "unknown"


def test_bad_input_is_a_friendly_error(env, tmp_path):
    out = tnaas(env, "check", "-r", "cargo", "x")
    assert out.returncode == 2 and "I don't know the registry 'cargo'" in out.stderr
    out = tnaas(env, "check", *[f"n{i}" for i in range(51)])
    assert out.returncode == 2 and "at most 20" in out.stderr
    out = tnaas(env, "availability", "refresh", "--from", str(tmp_path / "x.json"))
    assert out.returncode == 2 and "name that registry" in out.stderr
    out = tnaas(env, "availability", "refresh", "npm", "--from", str(tmp_path / "missing.json"))
    assert out.returncode == 1 and "Cannot read" in out.stdout and "Traceback" not in out.stderr


def test_refresh_reports_a_broken_index_and_keeps_the_old_snapshot(env, tmp_path):
    names = tmp_path / "pypi.txt"
    names.write_text("requests\n")
    assert tnaas(env, "availability", "refresh", "pypi", "--from", str(names)).returncode == 0
    with RegistryStandin(PYPI_NAMES, NPM_NAMES, mode="broken") as broken:
        out = tnaas(env | {"TNAAS_PYPI_INDEX_URL": broken.pypi_url}, "availability", "refresh", "pypi")
    assert out.returncode == 1 and "HTTP 500" in out.stdout
    assert SnapshotStore(tmp_path / "artifacts-data" / "availability").load(PYPI).source == str(names)


def test_npm_refresh_without_a_name_list_says_how_to_get_one(env):
    no_npm = env | {"PATH": os.path.dirname(sys.executable)}  # npm not on PATH
    out = tnaas(no_npm, "availability", "refresh", "npm")
    assert out.returncode == 1 and "all-the-package-names" in out.stdout and "--from" in out.stdout


# -- where the registry URLs come from ---------------------------------------------------------------
def test_our_setting_wins_then_pips_own_configuration(monkeypatch, tmp_path):
    assert resolve(PYPI, "http://127.0.0.1:1/simple").url == "http://127.0.0.1:1/simple/"
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:2/simple/")
    assert pip_index_url() == ("http://127.0.0.1:2/simple/", "PIP_INDEX_URL")
    monkeypatch.delenv("PIP_INDEX_URL")
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = http://127.0.0.1:3/simple/\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert pip_index_url() == ("http://127.0.0.1:3/simple/", "pip config")


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_registry_comes_from_npms_configuration(monkeypatch):
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:4/")
    assert npm_registry_url() == ("http://127.0.0.1:4/", "npm config")
    assert resolve(NPM, None).url == "http://127.0.0.1:4/"
