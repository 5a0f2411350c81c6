"""Each registry's own naming rules, as pure functions: which names it refuses, and how it compares names.

PyPI (warehouse's ``ProjectService.check_project_name``): a name must be a valid PEP 508 name; it must
not be a standard-library module name of any Python version (canonicalised, with its parent packages);
it is compared with existing projects after PEP 503 normalisation (taken), and refused when it equals an
existing one after "ultranormalisation" (``.``, ``_`` and ``-`` removed, ``l``/``i`` read as ``1``, ``o``
as ``0``). PyPI also refuses names on an admin-kept prohibited list and suspected typo-squats of popular
projects; neither list is published, so those are the only refusals we cannot predict.

npm (validate-npm-package-name 7, which the npm CLI bundles, ``validForNewPackages``): non-empty, no
leading ``.``, ``-`` or ``_``, no surrounding spaces, not ``node_modules``/``favicon.ico``, not a Node core
module name, at most 214 characters, lowercase, none of ``~'!()*``, URL-safe (scoped ``@user/pkg`` parts
each URL-safe). The registry also refuses a new unscoped name equal to an existing one once ``.``,
``-`` and ``_`` are removed (case folded): npm's 2017 typo-squatting rule.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import chain

import stdlib_list
from packaging.utils import canonicalize_name

PYPI, NPM = "pypi", "npm"
REGISTRIES = (PYPI, NPM)
LABELS = {PYPI: "PyPI", NPM: "npm"}  # as people write them

# -- PyPI ------------------------------------------------------------------------------------------
PEP508_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE)
_PEP503_RUNS = re.compile(r"[-_.]+")
_ULTRA_DROP = re.compile(r"[-_.]")
_ULTRA_MAP = str.maketrans("lio", "110")


def pypi_normalise(name: str) -> str:
    """PEP 503: lowercase, runs of ``-_.`` become one ``-``. The key PyPI compares projects by."""
    return _PEP503_RUNS.sub("-", name).lower()


def pypi_ultranormalise(name: str) -> str:
    """warehouse's ``ultranormalize_name``: the key of its "too similar to an existing project" rule."""
    return _ULTRA_DROP.sub("", name).lower().translate(_ULTRA_MAP)


@cache
def pypi_stdlib_names() -> frozenset[str]:
    """Every stdlib module (and parent package) of every Python version, canonicalised, as warehouse has it."""

    def parents(module: str):
        parts = module.split(".")
        return (".".join(parts[: i + 1]) for i in range(len(parts)))

    modules = chain.from_iterable(stdlib_list.stdlib_list(v) for v in stdlib_list.short_versions)
    return frozenset(canonicalize_name(p.strip("-_.")) for m in modules for p in parents(m))


def pypi_problems(name: str) -> list[str]:
    """Why PyPI would refuse ``name`` as a new project, whoever holds the names around it ([] = allowed)."""
    if not PEP508_NAME.match(name):
        return ["PyPI names use only letters, digits, '.', '_' and '-', and start and end with a letter or digit"]
    if pypi_normalise(name) in pypi_stdlib_names():
        return [f"'{name}' is a Python standard-library module name, which PyPI does not allow"]
    return []


# -- npm -------------------------------------------------------------------------------------------
NPM_MAX_LEN = 214
NPM_EXCLUDED = ("node_modules", "favicon.ico")
# validate-npm-package-name 7.0.2, lib/builtin-modules.json (Node's ``module.builtinModules`` and more)
NODE_BUILTINS = frozenset(
    [
        "_http_agent",
        "_http_client",
        "_http_common",
        "_http_incoming",
        "_http_outgoing",
        "_http_server",
        "_stream_duplex",
        "_stream_passthrough",
        "_stream_readable",
        "_stream_transform",
        "_stream_wrap",
        "_stream_writable",
        "_tls_common",
        "_tls_wrap",
        "assert",
        "assert/strict",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "dns/promises",
        "domain",
        "events",
        "fs",
        "fs/promises",
        "http",
        "http2",
        "https",
        "inspector",
        "inspector/promises",
        "module",
        "net",
        "os",
        "path",
        "path/posix",
        "path/win32",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "readline/promises",
        "repl",
        "stream",
        "stream/consumers",
        "stream/promises",
        "stream/web",
        "string_decoder",
        "sys",
        "timers",
        "timers/promises",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "util/types",
        "v8",
        "vm",
        "wasi",
        "worker_threads",
        "zlib",
        "node:sea",
        "node:sqlite",
        "node:test",
        "node:test/reporters",
    ]
)
_URI_COMPONENT_SAFE = re.compile(r"[A-Za-z0-9\-_.!~*'()]*\Z")  # what encodeURIComponent leaves alone
_SCOPED = re.compile(r"^(?:@([^/]+?)[/])?([^/]+?)$")
_NPM_SPECIAL = re.compile(r"[~'!()*]")
_NPM_PUNCTUATION = re.compile(r"[-_.]")


def npm_moniker(name: str) -> str:
    """The key of npm's "too similar to an existing package" rule: case folded, ``.``/``-``/``_`` removed."""
    return _NPM_PUNCTUATION.sub("", name.lower())


def npm_problems(name: str) -> list[str]:
    """Why npm would refuse ``name`` for a new package ([] = allowed): validate-npm-package-name's
    errors and warnings, in its own words and order."""
    errors: list[str] = []
    warnings: list[str] = []
    if not name:
        errors.append("name length must be greater than zero")
    if name.startswith("."):
        errors.append("name cannot start with a period")
    if name.startswith("-"):
        errors.append("name cannot start with a hyphen")
    if name.startswith("_"):
        errors.append("name cannot start with an underscore")
    if name.strip() != name:
        errors.append("name cannot contain leading or trailing spaces")
    errors += [f"{x} is not a valid package name" for x in NPM_EXCLUDED if name.lower() == x]
    if name.lower() in NODE_BUILTINS:
        warnings.append(f"{name} is a core module name")
    if len(name) > NPM_MAX_LEN:
        warnings.append(f"name can no longer contain more than {NPM_MAX_LEN} characters")
    if name.lower() != name:
        warnings.append("name can no longer contain capital letters")
    if _NPM_SPECIAL.search(name.split("/")[-1]):
        warnings.append('name can no longer contain special characters ("~\'!()*")')
    if not _uri_component_safe(name):
        scoped = _SCOPED.match(name)
        if scoped:
            user, pkg = scoped.group(1), scoped.group(2)
            if pkg.startswith("."):
                errors.append("name cannot start with a period")
            if user is not None and _uri_component_safe(user) and _uri_component_safe(pkg):
                return errors + warnings
        errors.append("name can only contain URL-friendly characters")
    return errors + warnings


def _uri_component_safe(text: str) -> bool:
    return bool(_URI_COMPONENT_SAFE.match(text))


def is_scoped(name: str) -> bool:
    return name.startswith("@") and "/" in name


# -- both ------------------------------------------------------------------------------------------
def problems(registry: str, name: str) -> list[str]:
    return pypi_problems(name) if registry == PYPI else npm_problems(name)


def exact_key(registry: str, name: str) -> str:
    """The key under which a registry stores a name: PEP 503 form on PyPI, the name itself on npm."""
    return pypi_normalise(name) if registry == PYPI else name


def similar_key(registry: str, name: str) -> str | None:
    """The key of the registry's "too similar" rule (npm applies it to unscoped names only)."""
    if registry == PYPI:
        return pypi_ultranormalise(name)
    return None if is_scoped(name) else npm_moniker(name)


SIMILAR_RULE = {
    PYPI: "too similar to an existing PyPI project (PyPI ignores '.', '_', '-' and reads l/i as 1, o as 0)",
    NPM: "too similar to an existing npm package (npm ignores '.', '-', '_' and case for new names)",
}
