"""Registry naming rules against tables of cases, and against the registries' own reference code."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import InvalidName, canonicalize_name

from availability.rules import (
    NPM,
    PYPI,
    exact_key,
    npm_moniker,
    npm_problems,
    pypi_normalise,
    pypi_problems,
    pypi_ultranormalise,
    similar_key,
)
from availability.snapshot import KEY_KINDS, hash_names


# -- PyPI ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("requests", "requests"),
        ("Django", "django"),
        ("zope.interface", "zope-interface"),
        ("Foo.Bar_baz--qux", "foo-bar-baz-qux"),
        ("a_-_b", "a-b"),
        ("PIP", "pip"),
        ("x1.2", "x1-2"),
    ],
)
def test_pep503_normalisation(name, key):
    assert pypi_normalise(name) == key == canonicalize_name(name)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("yt-tools", "ytt001s"),
        ("yttools", "ytt001s"),
        ("Django", "djang0"),
        ("pillow", "p1110w"),
        ("py-Lib", "py11b"),
        ("I.O", "10"),
        ("numpy", "numpy"),
    ],
)
def test_pypi_too_similar_key_is_warehouses_ultranormalisation(name, key):
    assert pypi_ultranormalise(name) == key


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("requests", True),
        ("a", True),
        ("a.b", True),
        ("A-1_b.c", True),
        ("kafkify", True),
        ("", False),
        ("-foo", False),
        ("foo-", False),
        ("_foo", False),
        ("foo.", False),
        ("foo bar", False),
        ("café", False),
        ("foo/bar", False),
        ("foo@1", False),
        # the standard library of any Python version, and every parent package of a stdlib module
        ("os", False),
        ("OS", False),
        ("asyncio", False),
        ("xml-etree", False),
        ("distutils", False),
        ("tkinter", False),
        ("__future__", False),
        ("Sys", False),
    ],
)
def test_which_names_pypi_refuses(name, allowed):
    assert (pypi_problems(name) == []) is allowed


def test_pypi_messages_say_why():
    assert "standard-library" in pypi_problems("asyncio")[0]
    assert "letters, digits" in pypi_problems("foo bar")[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcXYZ019._- @é", max_size=12))
def test_pypi_validity_and_normalisation_agree_with_packaging(name):
    """`packaging` (what pip uses) is the reference for PEP 508 names and PEP 503 keys."""
    try:
        canonicalize_name(name, validate=True)
        valid = True
    except InvalidName:
        valid = False
    assert (not pypi_problems(name) or pypi_normalise(name) in _stdlib()) is valid
    if valid:
        assert pypi_normalise(name) == canonicalize_name(name)


def _stdlib():
    from availability.rules import pypi_stdlib_names

    return pypi_stdlib_names()


# -- npm -------------------------------------------------------------------------------------------
NPM_CASES = [
    ("some-package", True),
    ("example.com", True),
    ("under_score", True),
    ("period.js", True),
    ("123numeric", True),
    ("crazy!", False),
    ("@npm/thingy", True),
    ("@npm-zors/money!time.js", False),
    ("", False),
    (".start-with-period", False),
    ("_start-with-underscore", False),
    ("-start-with-hyphen", False),
    ("contain:colons", False),
    (" leading-space", False),
    ("trailing-space ", False),
    ("s/l/a/s/h/e/s", False),
    ("node_modules", False),
    ("favicon.ico", False),
    ("http", False),
    ("fs", False),
    ("FS", False),
    ("assert/strict", False),
    ("node:test", False),
    ("http2", False),
    (
        "ifyouwanttogetthesumoftwonumberswherethosetwonumbersarechosenbyfindingthelargestoftwooutofthreenumbersandsquaringthemwhichismultiplyingthembyitselfthenyoushouldinputthreenumbersintothisfunctionanditwilldothatforyou-",
        False,
    ),
    (
        "ifyouwanttogetthesumoftwonumberswherethosetwonumbersarechosenbyfindingthelargestoftwooutofthreenumbersandsquaringthemwhichismultiplyingthembyitselfthenyoushouldinputthreenumbersintothisfunctionanditwilldothatforyou",
        True,
    ),
    ("CAPITAL-LETTERS", False),
    ("has~tilde", False),
    ("it's", False),
    ("@scope/.dot", False),
    ("@scope/ok-name", True),
    ("ünicode", False),
    ("kafkify", True),
    ("a", True),
    ("@/x", False),
]


@pytest.mark.parametrize(("name", "allowed"), NPM_CASES)
def test_which_names_npm_refuses(name, allowed):
    assert (npm_problems(name) == []) is allowed


def test_npm_length_limit_is_214():
    assert npm_problems("a" * 214) == []
    assert npm_problems("a" * 215) == ["name can no longer contain more than 214 characters"]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("react-native", "reactnative"),
        ("reactnative", "reactnative"),
        ("React.Native", "reactnative"),
        ("json_stream", "jsonstream"),
        ("JSONStream", "jsonstream"),
        ("left-pad", "leftpad"),
        ("a--b..c__d", "abcd"),
    ],
)
def test_npm_too_similar_key_drops_punctuation_and_case(name, key):
    assert npm_moniker(name) == key


def test_scoped_npm_names_escape_the_similarity_rule():
    assert similar_key(NPM, "@me/left-pad") is None
    assert similar_key(NPM, "left-pad") == "leftpad"
    assert exact_key(PYPI, "Zope.Interface") == "zope-interface"
    assert exact_key(NPM, "JSONStream") == "JSONStream"


def _npm_validator() -> Path | None:
    """The validate-npm-package-name that the installed npm CLI bundles (what npm itself runs)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        return None
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30).stdout.strip().splitlines()
    path = Path(root[-1]) / "npm" / "node_modules" / "validate-npm-package-name" if root else None
    return path if path and (path / "package.json").exists() else None


def test_npm_rules_match_npms_own_validator_on_every_case():
    validator = _npm_validator()
    if validator is None:
        pytest.skip("node and npm's bundled validate-npm-package-name are not installed")
    names = [n for n, _ in NPM_CASES] + ["a" * 215, "Abc~", "@a/b/c", "%20x", "x y"]
    script = (
        f"const v = require({json.dumps(str(validator))});"
        f"const names = {json.dumps(names)};"
        "console.log(JSON.stringify(names.map(n => { const r = v(n); return [r.validForNewPackages, [...(r.errors||[]), ...(r.warnings||[])]]; })));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    for name, (valid, messages) in zip(names, json.loads(out.stdout)):
        ours = npm_problems(name)
        assert (ours == []) is valid, name
        assert sorted(ours) == sorted(messages), name


# -- the snapshot's vectorised keys are exactly the rules' keys --------------------------------------
NAMES = st.text(alphabet="abcILOxyz019._-", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(NAMES, min_size=1, max_size=30))
def test_snapshot_keys_fold_the_normalisation_exactly(names):
    identity = KEY_KINDS[NPM, "exact"]
    for kind, rule in [
        ((PYPI, "exact"), pypi_normalise),
        ((PYPI, "similar"), pypi_ultranormalise),
        ((NPM, "similar"), npm_moniker),
    ]:
        assert (hash_names(names, KEY_KINDS[kind]) == hash_names([rule(n) for n in names], identity)).all(), kind
