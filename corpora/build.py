"""Rebuild the committed corpora from registry packages.

Run ``python -m corpora.build`` (needs npm and the registry). The output is deterministic: the same
package versions give byte-identical files, so ``git diff`` shows exactly what a rebuild changed.
Large lists are cut by popularity (downloads) so the repository stays a few hundred KB.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from corpora.normalize import slugify
from tnaas.limits import MAX_NAME_LEN

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
ENV_PACKAGE_LISTS = Path("/work/.library/env/packages")


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    source: str
    license: str
    normalisation: str
    load: Callable[[Path], Iterable[str]]
    role: str = "generate"  # "judge": only the judge learns from it (no name model, not offered to users)


def npm_unpack(package: str, dest: Path) -> tuple[Path, str]:
    """``npm pack`` a registry package into ``dest`` and return (unpacked folder, version)."""
    out = subprocess.run(
        ["npm", "pack", package, "--json", "--silent"], cwd=dest, check=True, capture_output=True, text=True
    )
    meta = json.loads(out.stdout)[0]
    folder = dest / meta["name"].replace("/", "_")
    folder.mkdir(exist_ok=True)
    with tarfile.open(dest / meta["filename"]) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package", meta["version"]


def _json_list(package: str, *files: str) -> Callable[[Path], list[str]]:
    def load(tmp: Path) -> list[str]:
        folder, version = npm_unpack(package, tmp)
        _versions[package] = version
        names: list[str] = []
        for f in files:
            names.extend(json.loads((folder / f).read_text(encoding="utf-8")))
        return names

    return load


_versions: dict[str, str] = {}


def _swedish(tmp: Path) -> list[str]:
    """Short lowercase words from the hunspell dictionary: IKEA names are 3-9 letters, å ä ö kept."""
    folder, version = npm_unpack("dictionary-sv", tmp)
    _versions["dictionary-sv"] = version
    lines = (folder / "index.dic").read_text(encoding="utf-8").splitlines()[1:]
    words = sorted({unicodedata.normalize("NFC", ln.split("/", 1)[0]) for ln in lines})
    ok = [w for w in words if re.fullmatch(r"[a-zåäö]{3,9}", w)]
    random.Random(42).shuffle(ok)
    return sorted(ok[:12000])


def _pypi(_: Path) -> list[str]:
    """The 15,000 most downloaded PyPI projects, PEP 503-normalised."""
    rows = csv.DictReader((ENV_PACKAGE_LISTS / "pypi.tsv").open(encoding="utf-8"), delimiter="\t")
    ranked = [
        (int(r["rank_among_15000_most_downloaded"]), r["name"]) for r in rows if r["rank_among_15000_most_downloaded"]
    ]
    return [re.sub(r"[-_.]+", "-", name.lower()) for _, name in sorted(ranked)]


PYPI_WORDS = 60_000


def _pypi_words(_: Path) -> list[str]:
    """One-word PyPI project names from the whole index, not only the most downloaded: the invented,
    brand-like names (hadoop-like) that the top 15,000's descriptive names (python-dateutil) lack."""
    rows = csv.DictReader((ENV_PACKAGE_LISTS / "pypi.tsv").open(encoding="utf-8"), delimiter="\t")
    words = sorted({n for r in rows if re.fullmatch(r"[a-z]{3,14}", n := r["name"].lower())})
    return sorted(random.Random(42).sample(words, min(PYPI_WORDS, len(words))))


def _npm(_: Path) -> list[str]:
    """The 15,000 most downloaded unscoped npm packages."""
    rows = csv.DictReader((ENV_PACKAGE_LISTS / "npm.tsv").open(encoding="utf-8"), delimiter="\t")
    ranked = [(-int(r["downloads_a_month"] or 0), r["name"]) for r in rows if not r["name"].startswith("@")]
    return [name.lower() for _, name in sorted(ranked)[:15000]]


# Debian packages one project ships as many (python3-x, libx-dev, x-doc, golang-github-owner-x...):
# strip the packaging so the project's own name is left, as people would type it.
_DEB_SKIP = re.compile(r"(linux-gnu|mingw|firmware|^linux-(image|headers|modules|kbuild|source|support|config|doc))")
_DEB_GO = re.compile(r"^golang-(github|gitlab|gopkg|google|golang|go|k8s|bitbucket)-[a-z0-9]+-")
_DEB_PREFIX = re.compile(
    r"^(python3?-|pypy3?-|node-|ruby-|php-|perl-|lua-|r-cran-|r-bioc-|r-other-|librust-|golang-|elpa-|gir1\.2-|"
    r"fonts?-|xfonts-|texlive-|tex-|ttf-|otf-|hunspell-|aspell-|myspell-|hyphen-|mythes-|libghc-|libjs-|"
    r"puppet-module-|vim-|emacs-|kde-|kodi-|trinity-|lib)"
)
_DEB_SUFFIX = re.compile(
    r"(-(dev|doc|docs|dbg|dbgsym|common|data|bin|utils|tools|perl|java|ocaml|cil|static|examples|tests?|plugins?|"
    r"runtime|headers|source|src|l10n|locales|i18n|core|cli|client|server|daemon|gtk\d?|qt\d?|nox|all|base|full|"
    r"extra|lite|mono|py|go)|\d[\d.+~-]*[a-z]?\d*)$"
)


def debian_project_name(package: str) -> str | None:
    """``python3-requests`` -> requests, ``libtkrzw1`` -> tkrzw; None for toolchain and kernel packages."""
    name = package.lower()
    if _DEB_SKIP.search(name):
        return None
    previous = None
    while previous != name:
        previous = name
        name = _DEB_GO.sub("", name)
        for pattern in (_DEB_PREFIX, _DEB_SUFFIX):
            stripped = pattern.sub("", name)
            name = stripped if len(stripped) >= 3 else name
    name = re.sub(r"[-_.+]+", "-", name).strip("-")
    ok = re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)?", name) and 3 <= len(name) <= 20
    return name if ok and sum(c.isdigit() for c in name) <= 2 else None


def _debian(_: Path) -> list[str]:
    """Project names behind every package Debian's apt lists (offline, after ``apt-get update``)."""
    out = subprocess.run(["apt-cache", "pkgnames"], check=True, capture_output=True, text=True).stdout.split()
    release = subprocess.run(["apt-cache", "policy", "apt"], capture_output=True, text=True).stdout
    _versions["debian"] = next((ln.split()[-1] for ln in release.splitlines() if "Candidate" in ln), "?")
    return sorted({n for p in out if (n := debian_project_name(p))})


SLUG = (
    "lowercase; diacritics stripped (NFKD); ♀/♂ -> f/m; apostrophes, dots and colons dropped; "
    "runs of spaces/other punctuation -> '-'"
)

SOURCES = [
    Source(
        "pokemon",
        "Pokemon, English names",
        "npm:pokemon (data/en.json)",
        "MIT",
        SLUG,
        _json_list("pokemon", "data/en.json"),
    ),
    Source(
        "pypi",
        "Most downloaded PyPI projects",
        "env package list pypi.tsv (rank among 15,000 most downloaded)",
        "names are facts; list from PyPI metadata",
        "PEP 503: lowercase, runs of -_. -> '-'",
        _pypi,
    ),
    Source(
        "npm",
        "Most downloaded unscoped npm packages",
        "env package list npm.tsv (top 15,000 by monthly downloads)",
        "names are facts; list from npm registry metadata",
        "lowercase; scoped (@x/y) names skipped",
        _npm,
    ),
    Source(
        "superheroes",
        "Marvel superheroes",
        "npm:superheroes (superheroes.json)",
        "MIT",
        SLUG,
        _json_list("superheroes", "superheroes.json"),
    ),
    Source(
        "cats",
        "Popular cat names",
        "npm:cat-names (cat-names.json)",
        "MIT",
        SLUG,
        _json_list("cat-names", "cat-names.json"),
    ),
    Source(
        "dogs",
        "Popular dog names",
        "npm:dog-names (female + male)",
        "MIT",
        SLUG,
        _json_list("dog-names", "female-dog-names.json", "male-dog-names.json"),
    ),
    Source(
        "swedish",
        "IKEA-style Swedish words",
        "npm:dictionary-sv (index.dic, 12,000 sampled with seed 42)",
        "LGPL-3.0 (word list)",
        "NFC; lowercase words of 3-9 letters a-z, å, ä, ö only",
        _swedish,
    ),
    Source(
        "debian",
        "Software projects packaged by Debian (for the judge's 'Pokemon or tech?')",
        "apt-cache pkgnames (Debian's package lists)",
        "names are facts; list from Debian's archive metadata",
        "lowercase; packaging prefixes/suffixes (python3-, lib, -dev, -doc, version numbers...) stripped; "
        "3-20 chars, at most one '-'",
        _debian,
        role="judge",
    ),
    Source(
        "pypi-words",
        "One-word PyPI project names, whole index (for the judge's 'Pokemon or tech?')",
        f"env package list pypi.tsv (every project; names of 3-14 letters a-z only, {PYPI_WORDS:,} sampled with seed 42)",
        "names are facts; list from PyPI metadata",
        "lowercase",
        _pypi_words,
        role="judge",
    ),
]


def normalise(source: Source, raw: Iterable[str]) -> list[str]:
    """Normalise, drop empties and over-long names, de-duplicate keeping first (most popular) order."""
    fix = slugify if source.normalisation == SLUG else (lambda s: s)
    seen: dict[str, None] = {}
    for name in raw:
        n = fix(name)
        if 0 < len(n) <= MAX_NAME_LEN and re.fullmatch(r"[a-z0-9åäö._-]+", n):
            seen.setdefault(n, None)
    return list(seen)


def build(out: Path = HERE, only: list[str] | None = None) -> dict:
    """Rebuild every corpus (or ``only`` those named, keeping the others' manifest entries)."""
    manifest: dict[str, dict] = json.loads((out / "manifest.json").read_text(encoding="utf-8")) if only else {}
    with tempfile.TemporaryDirectory() as tmp:
        for src in SOURCES:
            if only and src.name not in only:
                continue
            names = normalise(src, src.load(Path(tmp)))
            text = "\n".join(names) + "\n"
            (out / f"{src.name}.txt").write_text(text, encoding="utf-8")
            pkg = src.source.split(":", 1)[1].split(" ", 1)[0] if src.source.startswith("npm:") else None
            manifest[src.name] = {
                "description": src.description,
                "source": src.source + (f" v{_versions[pkg]}" if pkg else ""),
                "license": src.license,
                "count": len(names),
                "normalisation": src.normalisation,
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
            } | ({"role": src.role} if src.role != "generate" else {})
            if src.name == "debian":
                manifest[src.name]["source"] += f" (apt {_versions['debian']}, bookworm)"
            log.info("%s: %d names", src.name, len(names))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = sys.argv[1:]
    if args and Path(args[0]).is_dir():
        ENV_PACKAGE_LISTS = Path(args.pop(0))
    build(only=args or None)  # e.g. `python -m corpora.build debian` rebuilds that corpus alone
