"""Rebuild the committed corpora from public registries, on any machine.

Run ``python -m corpora.build`` (needs ``npm``, and the package indexes your pip and npm are set up
to use). Sources, and how the long lists are cut to ``TOP`` names:

- npm packages ``pokemon``, ``superheroes``, ``cat-names``, ``dog-names``, ``dictionary-sv``: whole
  lists (Swedish: a seeded sample).
- Judge-only corpora (no name model; the judge's "Pokemon or tech?" learns from them): ``debian``,
  the project names behind Debian's packages (``apt-cache pkgnames``, packaging stripped), and
  ``pypi-words``, one-word names of the whole PyPI index (a stable sample of 60,000).
- npm names: the npm package ``all-the-package-names``, which lists every public package name,
  most depended-on first; unscoped names are kept in that order, the first ``TOP``. Should a
  release ever come alphabetically sorted (no ranking at all), the ``stable sample`` below is used
  instead, and the manifest says so.
- PyPI names: ``--pypi-list FILE``, your own ranked list (one name per line, most popular first;
  or the JSON of a download ranking, ``{"rows": [{"project": ...}]}``), first ``TOP``; else the
  PEP 691 simple index your pip uses (``--index-url``, else pip's configured ``index-url``, else
  PyPI), which lists every project but ranks none: a **stable sample**, the ``TOP`` names with the
  smallest SHA-256 of their normalised name. It is uniform over the index, the same on every
  machine for the same index, and changes only where projects were added or removed.

``manifest.json`` records, for each corpus, its source, the version of that source (package
version, index serial or file hash), the ranking used and the day it was retrieved. The output is
deterministic: the same sources give byte-identical files, so ``git diff`` shows what changed.
"""

from __future__ import annotations

import argparse
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
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from core.limits import MAX_NAME_LEN
from corpora.normalize import slugify

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TOP = 15000  # names kept of the long package lists: enough for a style, a few hundred KB in git
PYPI = "https://pypi.org/simple/"
PEP691_JSON = "application/vnd.pypi.simple.v1+json"
FETCH_TIMEOUT = 300  # seconds for one index download (every project name: tens of MB)


@dataclass
class Loaded:
    """Names in rank order, and where they came from (for the manifest)."""

    names: list[str]
    source: str
    version: str
    ranking: str = "the source's own order"


@dataclass(frozen=True)
class Options:
    pypi_list: Path | None = None
    index_url: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    license: str
    normalisation: str
    load: Callable[[Options], Loaded]
    role: str = "generate"  # "judge": only the judge learns from it (no name model, not offered to users)


class SourceError(RuntimeError):
    """A source that cannot be read, said so that the person running the build knows what to do."""


def npm_unpack(package: str, dest: Path) -> tuple[Path, str]:
    """``npm pack`` a registry package into ``dest`` and return (unpacked folder, version)."""
    try:
        out = subprocess.run(
            ["npm", "pack", package, "--json", "--silent"],
            cwd=dest,
            check=True,
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT,
        )
    except FileNotFoundError as err:
        raise SourceError("npm is needed to fetch the npm packages: install Node.js (npm comes with it)") from err
    except subprocess.CalledProcessError as err:
        raise SourceError(f"npm pack {package} failed: {err.stderr.strip()[-500:]}") from err
    meta = json.loads(out.stdout)[0]
    folder = dest / meta["name"].replace("/", "_")
    folder.mkdir(exist_ok=True)
    with tarfile.open(dest / meta["filename"]) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package", meta["version"]


def _npm_source(package: str, files: tuple[str, ...]) -> str:
    return f"npm:{package} ({' + '.join(files)})"


def _json_list(package: str, *files: str) -> Callable[[Options], Loaded]:
    def load(options: Options) -> Loaded:
        folder, version = npm_unpack(package, options.workdir)
        names: list[str] = []
        for f in files:
            names.extend(json.loads((folder / f).read_text(encoding="utf-8")))
        return Loaded(names, _npm_source(package, files), version)

    return load


def _swedish(options: Options) -> Loaded:
    """Short lowercase words from the hunspell dictionary: IKEA names are 3-9 letters, å ä ö kept."""
    folder, version = npm_unpack("dictionary-sv", options.workdir)
    lines = (folder / "index.dic").read_text(encoding="utf-8").splitlines()[1:]
    words = sorted({unicodedata.normalize("NFC", ln.split("/", 1)[0]) for ln in lines})
    ok = [w for w in words if re.fullmatch(r"[a-zåäö]{3,9}", w)]
    random.Random(42).shuffle(ok)
    return Loaded(sorted(ok[:12000]), "npm:dictionary-sv (index.dic)", version, "12,000 sampled with seed 42")


# -- PyPI ---------------------------------------------------------------------------------------------
def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


def stable_sample(names: Iterable[str], top: int) -> list[str]:
    """The ``top`` names with the smallest SHA-256: uniform, machine-independent, stable as a list grows."""
    unique = set(names)
    return sorted(unique, key=lambda n: (hashlib.sha256(n.encode()).hexdigest(), n))[:top]


def configured_index_url() -> str:
    """The index pip would use: PIP_INDEX_URL or pip's config files (pip's own precedence), else PyPI."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60, check=False
    )
    found = dict(re.findall(r"^([:\w.-]*index-url)='(.*)'$", out.stdout, re.MULTILINE))
    for key in (":env:.index-url", "site.index-url", "user.index-url", "global.index-url"):
        if found.get(key):
            return found[key]
    return PYPI


def fetch_index(index_url: str) -> tuple[list[str], str]:
    """Every project name of a PEP 691 index, and its version (PyPI's last serial, when it says)."""
    url = index_url.rstrip("/") + "/"
    request = urllib.request.Request(url, headers={"Accept": PEP691_JSON, "User-Agent": "tnaas-corpora-build"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            kind = response.headers.get("Content-Type", "").split(";")[0].strip()
            serial = response.headers.get("X-PyPI-Last-Serial")
            body = response.read()
    except OSError as err:
        raise SourceError(f"cannot read the package index {url}: {err}") from err
    if kind != PEP691_JSON:
        raise SourceError(
            f"the package index {url} answered {kind or 'without a type'}, not PEP 691 JSON: "
            "use an index that speaks it (--index-url), or give a ranked list with --pypi-list FILE"
        )
    index = json.loads(body)
    meta = index.get("meta", {})
    serial = serial or meta.get("_last-serial")
    version = f"serial {serial}" if serial else f"api {meta.get('api-version', '?')}"
    return [p["name"] for p in index["projects"]], version


def read_ranked_list(path: Path) -> list[str]:
    """Names, most popular first: JSON (a list, or ``{"rows": [{"project": ...}]}``) or one per line."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        rows = data["rows"] if isinstance(data, dict) else data
        return [r["project"] if isinstance(r, dict) else r for r in rows]
    names = []
    for line in text.splitlines():
        first = re.split(r"[\s,]+", line.strip(), maxsplit=1)[0]
        if first and not first.startswith("#") and first.lower() not in ("name", "project"):
            names.append(first)
    return names


def _pypi(options: Options) -> Loaded:
    if options.pypi_list is not None:
        digest = hashlib.sha256(options.pypi_list.read_bytes()).hexdigest()[:12]
        names = [pep503(n) for n in read_ranked_list(options.pypi_list)]
        return Loaded(
            names[:TOP], f"file {options.pypi_list.name}", f"sha256 {digest}", f"the file's order, first {TOP:,}"
        )
    url = options.index_url or configured_index_url()
    names, version = fetch_index(url)
    log.info("pypi: %d projects in %s", len(names), url)
    return Loaded(
        stable_sample((n for n in map(pep503, names) if usable(n)), TOP),
        f"PEP 691 index {url}",
        version,
        f"stable sample: the {TOP:,} smallest SHA-256 of the normalised names",
    )


# -- npm ----------------------------------------------------------------------------------------------
def is_alphabetical(names: list[str]) -> bool:
    return all(a <= b for a, b in pairwise(names))


def _npm(options: Options) -> Loaded:
    folder, version = npm_unpack("all-the-package-names", options.workdir)
    main = json.loads((folder / "package.json").read_text(encoding="utf-8")).get("main") or "names.json"
    everything = json.loads((folder / main).read_text(encoding="utf-8"))
    unscoped = [n.lower() for n in everything if not n.startswith("@")]
    if is_alphabetical(everything):
        ranked, ranking = (
            stable_sample(filter(usable, unscoped), TOP),
            f"stable sample (this release is alphabetical), {TOP:,}",
        )
    else:
        ranked, ranking = unscoped[:TOP], f"most depended-on first (the package's order), first {TOP:,}"
    return Loaded(ranked, f"npm:all-the-package-names ({main})", version, ranking)


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


def _debian(_: Options) -> Loaded:
    """Project names behind every package Debian's apt lists (offline, after ``apt-get update``)."""
    try:
        out = subprocess.run(["apt-cache", "pkgnames"], check=True, capture_output=True, text=True).stdout.split()
        policy = subprocess.run(["apt-cache", "policy", "apt"], capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise SourceError(f"cannot list Debian's packages (apt-cache): {err}") from err
    release = next((ln.split()[-1] for ln in policy.splitlines() if "Candidate" in ln), "?")
    names = sorted({n for p in out if (n := debian_project_name(p))})
    return Loaded(names, "apt-cache pkgnames (Debian's package lists)", f"apt {release}", "every project, sorted")


PYPI_WORDS = 60_000


def _pypi_words(options: Options) -> Loaded:
    """One-word PyPI project names from the whole index, not only the most downloaded: the invented,
    brand-like names (hadoop-like) that the top names' descriptive ones (python-dateutil) lack."""
    url = options.index_url or configured_index_url()
    names, version = fetch_index(url)
    words = {n for n in map(pep503, names) if re.fullmatch(r"[a-z]{3,14}", n)}
    return Loaded(
        stable_sample(words, PYPI_WORDS),
        f"PEP 691 index {url}",
        version,
        f"names of 3-14 letters a-z only; stable sample: the {PYPI_WORDS:,} smallest SHA-256",
    )


SLUG = (
    "lowercase; diacritics stripped (NFKD); ♀/♂ -> f/m; apostrophes, dots and colons dropped; "
    "runs of spaces/other punctuation -> '-'"
)

SOURCES = [
    Source("pokemon", "Pokemon, English names", "MIT", SLUG, _json_list("pokemon", "data/en.json")),
    Source(
        "pypi",
        "PyPI projects (a ranked list given, else a stable sample of the index)",
        "names are facts; list from PyPI metadata",
        "PEP 503: lowercase, runs of -_. -> '-'",
        _pypi,
    ),
    Source(
        "npm",
        "Most depended-on unscoped npm packages",
        "names are facts; list from npm registry metadata (all-the-package-names: MIT)",
        "lowercase; scoped (@x/y) names skipped",
        _npm,
    ),
    Source("superheroes", "Marvel superheroes", "MIT", SLUG, _json_list("superheroes", "superheroes.json")),
    Source("cats", "Popular cat names", "MIT", SLUG, _json_list("cat-names", "cat-names.json")),
    Source(
        "dogs",
        "Popular dog names",
        "MIT",
        SLUG,
        _json_list("dog-names", "female-dog-names.json", "male-dog-names.json"),
    ),
    Source(
        "swedish",
        "IKEA-style Swedish words",
        "LGPL-3.0 (word list)",
        "NFC; lowercase words of 3-9 letters a-z, å, ä, ö only",
        _swedish,
    ),
    Source(
        "debian",
        "Software projects packaged by Debian (for the judge's 'Pokemon or tech?')",
        "names are facts; list from Debian's archive metadata",
        "lowercase; packaging prefixes/suffixes (python3-, lib, -dev, -doc, version numbers...) stripped; "
        "3-20 chars, at most one '-'",
        _debian,
        role="judge",
    ),
    Source(
        "pypi-words",
        "One-word PyPI project names, whole index (for the judge's 'Pokemon or tech?')",
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
        if usable(n):
            seen.setdefault(n, None)
    return list(seen)


def usable(name: str) -> bool:
    """A name the models can learn from: 1 to MAX_NAME_LEN letters, digits, å ä ö, dots, dashes, underscores."""
    return 0 < len(name) <= MAX_NAME_LEN and re.fullmatch(r"[a-z0-9åäö._-]+", name) is not None


def entry(source: Source, loaded: Loaded, names: list[str], text: str, today: str) -> dict:
    return {
        "description": source.description,
        "source": loaded.source,
        "version": loaded.version,
        "ranking": loaded.ranking,
        "retrieved": today,
        "license": source.license,
        "count": len(names),
        "normalisation": source.normalisation,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    } | ({"role": source.role} if source.role != "generate" else {})


def build(options: Options, only: list[str] | None = None, out: Path = HERE) -> dict:
    """Rebuild the corpora named in ``only`` (default all); other corpora keep their manifest entry."""
    path = out / "manifest.json"
    manifest: dict[str, dict] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    today = datetime.now(UTC).date().isoformat()
    for src in SOURCES:
        if only and src.name not in only:
            continue
        loaded = src.load(options)
        names = normalise(src, loaded.names)
        text = "\n".join(names) + "\n"
        (out / f"{src.name}.txt").write_text(text, encoding="utf-8")
        manifest[src.name] = entry(src, loaded, names, text, today)
        log.info("%s: %d names from %s %s", src.name, len(names), loaded.source, loaded.version)
    ordered = {s.name: manifest[s.name] for s in SOURCES if s.name in manifest}
    path.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpora.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypi-list", type=Path, help="ranked PyPI names (text, one a line, or JSON rows)")
    parser.add_argument("--index-url", help="a PEP 691 simple index; default pip's configured index, else PyPI")
    parser.add_argument("--only", action="append", choices=[s.name for s in SOURCES], help="rebuild only these")
    parser.add_argument("--out", type=Path, default=HERE, help="where the corpora and manifest.json go")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        options = Options(pypi_list=args.pypi_list, index_url=args.index_url, workdir=Path(tmp))
        try:
            build(options, args.only, args.out)
        except SourceError as err:
            log.error("%s", err)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
