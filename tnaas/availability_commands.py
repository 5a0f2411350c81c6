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
from availability.config import NotConfigured
from availability.marks import Verdict
from availability.refresh import refresh_snapshot, snapshot_states
from availability.rules import REGISTRIES
from availability.snapshot import SnapshotStore
from availability.sources import SourceError
from core.limits import MAX_CHECK_NAMES
from core.settings import get_settings

log = logging.getLogger(__name__)
console = Console(width=None if Console().is_terminal else 160)
availability_app = typer.Typer(
    help="Is a name free on PyPI and npm: snapshots of every registry name, and live checks.", no_args_is_help=True
)

COLOURS = {
    Verdict.FREE: "green",
    Verdict.NOT_REGISTERED: "cyan",
    Verdict.TAKEN: "red",
    Verdict.REFUSED: "magenta",
    Verdict.UNKNOWN: "yellow",
}
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
        results = checker.check(names, registries, checker.allowance("cli"))
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
    states = _states(settings)
    failed = False
    for r in registries:
        start = time.perf_counter()
        try:
            snap = refresh_snapshot(r, store, settings, from_file=from_file, states=states)
        except (SourceError, NotConfigured) as err:
            console.print(f"[red]{r}: {escape(str(err))}[/red]")
            failed = True
            continue
        console.print(
            f"{r}: {len(snap.exact):,} names from {escape(snap.source)} in {time.perf_counter() - start:.1f} s, "
            f"{snap.nbytes / 2**20:.1f} MiB, false-positive rate {snap.false_positive_rate:.1e}; "
            f"the scheduler refreshes it every {_age(settings.availability_snapshot_refresh)}"
        )
    if failed:
        raise typer.Exit(1)


def _states(settings):
    """Where the stack's workers and /healthz learn of a new snapshot, when this machine has the stack's Redis."""
    if not settings.redis_url:
        return None
    from redis import Redis

    from store.availability import SnapshotStates

    try:
        return SnapshotStates(Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1))
    except ValueError as err:
        log.warning("REDIS_URL unusable (%s): the snapshot is not reported", err)
        return None


def _age(seconds: float) -> str:
    """3 s, 12 min, 5.2 h, 3.1 days."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@availability_app.command("status")
def status() -> None:
    """The snapshots on disk: state (fresh, due, stale or none), age, where from, names, memory, false-positive rate."""
    settings = get_settings()
    store = SnapshotStore(settings.snapshot_dir)
    table = Table("registry", "state", "age", "names", "source", "MiB", "false-positive rate")
    for state in snapshot_states(store, settings):
        snap = store.load(state.registry) if state.state != "none" else None
        if snap is None:
            table.add_row(state.registry, "none", "-", "-", "run `tnaas availability refresh`", "", "")
            continue
        table.add_row(
            state.registry,
            state.state,
            f"{_age(state.age)} ago",
            f"{len(snap.exact):,}",
            escape(snap.source),
            f"{snap.nbytes / 2**20:.1f}",
            f"{snap.false_positive_rate:.1e}",
        )
    console.print(table)
    console.print(
        f"[dim]The scheduler rebuilds a snapshot every {_age(settings.availability_snapshot_refresh)} "
        "(TNAAS_AVAILABILITY_SNAPSHOT_REFRESH) from where it was made; without one, names the registry has "
        "not registered read 'not registered' (the 'too similar' rule unchecked).[/dim]"
    )
