"""`python -m corpora.build` against stand-ins for the package indexes it reads: a PEP 691 simple
index and an npm registry, both local HTTP servers answering as the real ones do."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import tarfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corpora import build
from corpora.build import PEP691_JSON, Options, SourceError, stable_sample

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(routes: dict[str, tuple[str, bytes, dict]]):
    """A local HTTP server: path -> (content type, body, extra headers); anything else is a 404.
    A PEP 691 index answers HTML unless JSON is asked for, as PyPI does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?")[0]
            if path not in routes:
                self.send_error(404)
                return
            kind, body, headers = routes[path]
            if kind == PEP691_JSON and PEP691_JSON not in self.headers.get("Accept", ""):
                kind, body = "text/html", b"<html><body>projects</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def index_routes(names: list[str], serial: int = 4242) -> dict:
    body = json.dumps(
        {"meta": {"api-version": "1.1", "_last-serial": serial}, "projects": [{"name": n} for n in names]}
    ).encode()
    return {"/simple/": (PEP691_JSON, body, {"X-PyPI-Last-Serial": str(serial)})}


NAMES = ["Django", "requests", "Flask_Login", "flask-login", "zope.interface", "numpy", "a" * 40, "x--y"]


def test_the_index_gives_a_stable_sample_that_moves_only_where_projects_changed(monkeypatch, tmp_path):
    monkeypatch.setattr(build, "TOP", 4)
    with serve(index_routes(NAMES)) as base:
        loaded = build._pypi(Options(index_url=f"{base}/simple/", workdir=tmp_path))
    everyone = {"django", "requests", "flask-login", "zope-interface", "numpy", "x-y"}  # "a" * 40 is too long
    assert loaded.names == stable_sample(everyone, 4) and len(loaded.names) == 4
    assert loaded.version == "serial 4242" and loaded.source == f"PEP 691 index {base}/simple/"
    assert "stable sample" in loaded.ranking
    grown = stable_sample(everyone | {"brand-new-project"}, 4)
    assert len(set(grown) - set(loaded.names)) <= 1  # one new project changes at most one place


def test_an_index_without_pep_691_is_a_clear_error(tmp_path):
    html_only = {"/simple/": ("text/html", b"<html></html>", {})}
    with serve(html_only) as base, pytest.raises(SourceError, match="not PEP 691 JSON.*--pypi-list"):
        build._pypi(Options(index_url=f"{base}/simple/", workdir=tmp_path))
    with pytest.raises(SourceError, match="cannot read the package index"):
        build._pypi(Options(index_url=f"{base}/simple/", workdir=tmp_path))  # the server has gone


def test_pip_s_configured_index_is_the_default(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple/")
    assert build.configured_index_url() == "http://127.0.0.1:9/simple/"


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("top.txt", "# most downloaded first\nname\nBoto3\nurllib3 123456\nRequests,99\n"),
        ("top.json", json.dumps({"rows": [{"project": "boto3"}, {"project": "urllib3"}, {"project": "requests"}]})),
    ],
)
def test_a_ranked_list_given_on_the_command_line_keeps_its_order(tmp_path, filename, text):
    (tmp_path / filename).write_text(text)
    loaded = build._pypi(Options(pypi_list=tmp_path / filename, workdir=tmp_path))
    assert loaded.names == ["boto3", "urllib3", "requests"]
    assert loaded.source == f"file {filename}" and re.fullmatch(r"sha256 [0-9a-f]{12}", loaded.version)


def npm_package(base: str, package: str, version: str, files: dict[str, object]) -> dict:
    """The packument and tarball of one package, as the npm registry serves them."""
    buffer = io.BytesIO()
    manifest = {"name": package, "version": version, "main": "names.json"}
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in ({"package.json": manifest} | files).items():
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tgz = buffer.getvalue()
    tarball = f"/{package}/-/{package}-{version}.tgz"
    dist = {
        "tarball": base + tarball,
        "shasum": hashlib.sha1(tgz).hexdigest(),
        "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode(),
    }
    packument = {
        "name": package,
        "dist-tags": {"latest": version},
        "versions": {version: manifest | {"dist": dist}},
    }
    return {
        f"/{package}": ("application/json", json.dumps(packument).encode(), {}),
        tarball: ("application/octet-stream", tgz, {}),
    }


needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
RANKED = ["react", "@types/node", "lodash", "Chalk", "express", "@babel/core", "debug"]


@pytest.fixture
def npm_registry(monkeypatch, tmp_path):
    """Point npm at a local registry (and a cache of its own) for the duration of a test."""
    routes: dict = {}
    with serve(routes) as base:
        monkeypatch.setenv("npm_config_registry", base + "/")
        monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
        monkeypatch.setenv("npm_config_update_notifier", "false")
        yield base, routes


@needs_npm
def test_npm_names_come_from_all_the_package_names_in_its_order(npm_registry, tmp_path, monkeypatch):
    base, routes = npm_registry
    routes.update(npm_package(base, "all-the-package-names", "2.0.9999", {"names.json": RANKED}))
    monkeypatch.setattr(build, "TOP", 3)
    loaded = build._npm(Options(workdir=tmp_path))
    assert loaded.names == ["react", "lodash", "chalk"]  # scoped names skipped, the package's order kept
    assert loaded.version == "2.0.9999" and "most depended-on first" in loaded.ranking


@needs_npm
def test_an_alphabetical_release_is_sampled_not_cut_at_the_letter_b(npm_registry, tmp_path, monkeypatch):
    base, routes = npm_registry
    routes.update(npm_package(base, "all-the-package-names", "3.0.0", {"names.json": sorted(RANKED)}))
    monkeypatch.setattr(build, "TOP", 3)
    loaded = build._npm(Options(workdir=tmp_path))
    unscoped = ["chalk", "debug", "express", "lodash", "react"]
    assert loaded.names == stable_sample(unscoped, 3) and "stable sample" in loaded.ranking


@needs_npm
def test_a_missing_npm_package_is_a_clear_error(npm_registry, tmp_path):
    with pytest.raises(SourceError, match="npm pack all-the-package-names failed"):
        build._npm(Options(workdir=tmp_path))


def test_the_build_writes_each_corpus_and_records_source_version_ranking_and_date(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "TOP", 5)
    shutil.copy(ROOT / "corpora" / "manifest.json", tmp_path)
    with serve(index_routes(NAMES, serial=777)) as base:
        assert build.main(["--only", "pypi", "--index-url", f"{base}/simple/", "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    pypi = manifest["pypi"]
    words = (tmp_path / "pypi.txt").read_text().split()
    assert pypi["count"] == len(words) == 5 and "a" * 40 not in words  # sampled among usable names
    assert pypi["version"] == "serial 777" and pypi["source"].startswith("PEP 691 index http://127.0.0.1:")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pypi["retrieved"]) and "stable sample" in pypi["ranking"]
    assert pypi["sha256"] == hashlib.sha256((tmp_path / "pypi.txt").read_bytes()).hexdigest()
    assert manifest["pokemon"] == json.loads((ROOT / "corpora" / "manifest.json").read_text())["pokemon"]
    assert list(manifest) == [s.name for s in build.SOURCES]


def test_the_build_reads_no_path_of_a_particular_machine():
    source = (ROOT / "corpora" / "build.py").read_text()
    assert not re.search(r"[\"'](/work|/home|/opt|/Users)/", source)
