"""Which package index and npm registry to ask: the ones the user's own pip and npm are configured with.

Order: our setting (``TNAAS_PYPI_INDEX_URL`` / ``TNAAS_NPM_REGISTRY_URL``), then pip's own configuration
(``PIP_INDEX_URL``, then ``pip config``'s ``index-url``, then pip's built-in default) and npm's
(``npm config get registry``, which already honours ``npm_config_registry`` and every ``.npmrc``). No host
is written here: without pip or npm and without our setting, the registry is "not configured".
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from availability.rules import NPM, PYPI

log = logging.getLogger(__name__)

TOOL_TIMEOUT = 20.0  # seconds for `pip config list` / `npm config get registry`


class NotConfigured(RuntimeError):
    """No URL for a registry: neither our setting nor the user's tool names one."""


@dataclass(frozen=True)
class RegistryEndpoint:
    registry: str
    url: str  # ends with "/"
    origin: str  # where the URL came from, for messages: "TNAAS_PYPI_INDEX_URL", "pip config", ...


def resolve(registry: str, setting: str | None) -> RegistryEndpoint:
    """The endpoint for ``registry``; raises NotConfigured with a message saying what to set."""
    if setting:
        return RegistryEndpoint(
            registry, _slash(setting), f"TNAAS_{registry.upper()}_{'INDEX' if registry == PYPI else 'REGISTRY'}_URL"
        )
    found = pip_index_url() if registry == PYPI else npm_registry_url()
    if found is None:
        tool, var = ("pip", "TNAAS_PYPI_INDEX_URL") if registry == PYPI else ("npm", "TNAAS_NPM_REGISTRY_URL")
        raise NotConfigured(f"No {registry} registry configured: {tool} gave none. Set {var}.")
    return RegistryEndpoint(registry, _slash(found[0]), found[1])


def pip_index_url() -> tuple[str, str] | None:
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"], "PIP_INDEX_URL"
    configured = _pip_config_index()
    if configured:
        return configured, "pip config"
    try:  # pip's own default, as pip itself would use it
        from pip._internal.models.index import PyPI
    except ImportError:
        return None
    return PyPI.simple_url, "pip's default index"


def _pip_config_index() -> str | None:
    """``index-url`` from ``pip config list`` (install.* over global.*), as pip resolves its files."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            env=os.environ | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("pip config list failed: %s", err)
        return None
    values = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values.get("install.index-url") or values.get("global.index-url")


def npm_registry_url() -> tuple[str, str] | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        out = subprocess.run([npm, "config", "get", "registry"], capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("npm config get registry failed: %s", err)
        return None
    url = out.stdout.strip().splitlines()[-1].strip() if out.stdout.strip() else ""
    return (url, "npm config") if out.returncode == 0 and url.startswith(("http://", "https://")) else None


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def endpoints(settings, registries=(PYPI, NPM)) -> dict[str, RegistryEndpoint | NotConfigured]:
    """Each registry's endpoint, or the reason it has none (reported per registry, never raised)."""
    own = {PYPI: settings.pypi_index_url, NPM: settings.npm_registry_url}
    out: dict[str, RegistryEndpoint | NotConfigured] = {}
    for registry in registries:
        try:
            out[registry] = resolve(registry, own[registry])
        except NotConfigured as err:
            out[registry] = err
    return out
