"""``tnaas check NAME...`` and ``tnaas availability refresh|status``: registered on the main app by ``register``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from availability.checker import build_checker
from availability.config import NotConfigured, resolve
from availability.marks import Verdict
from availability.rules import NPM, PYPI, REGISTRIES
from availability.snapshot import Snapshot, SnapshotStore
from availability.sources import NPM_NAMES_PACKAGE, SourceError, installed_npm_names, names_from_file, names_from_index
from core.limits import MAX_CHECK_NAMES
from core.settings import get_settings

log = logging.getLogger(__name__)
console = Console(width=None if Console().is_terminal else 160)
availability_app = typer.Typer(
    help="Is a name free on PyPI and npm: snapshots of every registry name, and live checks.", no_args_is_help=True
)

COLOURS = {Verdict.FREE: "green", Verdict.TAKEN: "red", Verdict.REFUSED: "magenta", Verdict.UNKNOWN: "yellow"}
RegistryOpt = Annotated[
    list[str] | None, typer.Option("--registry", "-r", help="pypi or npm (repeatable); default both")
]


def register(app: typer.Typer) -> None:
    app.add_typer(availability_app, name="availability")
    app.command("check")(check)


def _registries(chosen: list[str] | None) -> tuple[str, ...]:
    chosen = [r.lower() for r in chosen or REGISTRIES]
    unknown = [r for r in chosen if r not in REGISTRIES]
    if unknown:
        _fail(f"I don't know the registry '{unknown[0]}'. Try one of: {', '.join(REGISTRIES)}.")
    return tuple(dict.fromkeys(chosen))


def _fail(message: str) -> None:
    console.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(2)


def check(
    names: Annotated[list[str], typer.Argument(help="names to look up")],
    registry: RegistryOpt = None,
    offline: Annotated[bool, typer.Option(help="use only the rules and the snapshot; never ask a registry")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per name")] = False,
) -> None:
    """Is NAME free on PyPI and npm? By each registry's rules, its snapshot and a live look-up."""
    if len(names) > MAX_CHECK_NAMES:
        _fail(f"{len(names)} names: one check takes at most {MAX_CHECK_NAMES}.")
    registries = _registries(registry)
    settings = get_settings()
    connection = None
    if settings.redis_url and not offline:
        from redis import Redis

        try:
            connection = Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        except ValueError as err:
            log.warning("REDIS_URL unusable (%s): checking without the cache", err)
    checker = build_checker(settings, registries, connection=connection, live=not offline)
    try:
        results = checker.check(names, registries)
    finally:
        if checker.live is not None:
            checker.live.close()
    if as_json:
        for name, marks in zip(names, results):
            typer.echo(json.dumps({"name": name, **{r: m.to_dict() for r, m in marks.items()}}, ensure_ascii=False))
        return
    table = Table("name", *registries)
    for name, marks in zip(names, results):
        cells = []
        for r in registries:
            m = marks[r]
            reason = f"\n[dim]{escape(m.reason)}[/dim]" if m.reason and m.verdict is not Verdict.FREE else ""
            cells.append(f"[{COLOURS[m.verdict]}]{m.verdict.value}[/{COLOURS[m.verdict]}]{reason}")
        table.add_row(escape(name), *cells)
    console.print(table)


@availability_app.command("refresh")
def refresh(
    registry: Annotated[list[str] | None, typer.Argument(help="pypi and/or npm; default both")] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="names from this file instead (JSON list, PEP 691 index, or one per line)"),
    ] = None,
) -> None:
    """Rebuild the snapshot of every name on a registry, from its index (PyPI) or a file."""
    registries = _registries(registry)
    if from_file is not None and len(registries) != 1:
        _fail(
            "--from reads one registry's names: name that registry, e.g. `tnaas availability refresh npm --from names.json`."
        )
    settings = get_settings()
    store = SnapshotStore(settings.snapshot_dir)
    failed = False
    for r in registries:
        try:
            names, source = _read_names(r, from_file, settings)
        except (SourceError, NotConfigured) as err:
            console.print(f"[red]{r}: {escape(str(err))}[/red]")
            failed = True
            continue
        start = time.perf_counter()
        snap = Snapshot.build(r, names, source)
        if not len(snap.exact):
            console.print(f"[red]{r}: {escape(source)} has no names; the old snapshot is kept.[/red]")
            failed = True
            continue
        store.save(snap)
        console.print(
            f"{r}: {len(snap.exact):,} names from {escape(source)} in {time.perf_counter() - start:.1f} s, "
            f"{snap.nbytes / 2**20:.1f} MiB, false-positive rate {snap.false_positive_rate:.1e}"
        )
    if failed:
        raise typer.Exit(1)


def _read_names(registry: str, from_file: Path | None, settings) -> tuple[list[str], str]:
    if from_file is not None:
        return names_from_file(from_file), str(from_file)
    if registry == PYPI:
        endpoint = resolve(PYPI, settings.pypi_index_url)
        console.print(f"pypi: reading the index at {endpoint.url} ({endpoint.origin})")
        return names_from_index(endpoint, settings.availability_refresh_timeout), endpoint.url
    found = installed_npm_names()
    if found is None:
        raise SourceError(
            f"the npm registry has no list of every name. Install one (`npm install -g {NPM_NAMES_PACKAGE}`) "
            "or pass a file: `tnaas availability refresh npm --from names.json`."
        )
    return names_from_file(found), f"{NPM_NAMES_PACKAGE} ({found})"


@availability_app.command("status")
def status() -> None:
    """The snapshots on disk: where from, when, how many names, memory, false-positive rate."""
    store = SnapshotStore(get_settings().snapshot_dir)
    table = Table("registry", "names", "built", "source", "MiB", "false-positive rate")
    for r in (PYPI, NPM):
        snap = store.load(r)
        if snap is None:
            table.add_row(r, "-", "never: run `tnaas availability refresh`", "", "", "")
            continue
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(snap.built_at))
        table.add_row(
            r,
            f"{len(snap.exact):,}",
            built,
            escape(snap.source),
            f"{snap.nbytes / 2**20:.1f}",
            f"{snap.false_positive_rate:.1e}",
        )
    console.print(table)
