"""``tnaas check NAME...`` and ``tnaas availability refresh|status``: registered on the main app by ``register``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from core.limits import MAX_CHECK_NAMES
from tnaas.terminal import consoles, fail, print_json

# What each command needs is imported in its body: `tnaas --help` imports none of it.
log = logging.getLogger(__name__)
availability_app = typer.Typer(
    help="Registry snapshots: is a name free on PyPI and npm, offline.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
COLOURS = {"free": "green", "not registered": "cyan", "taken": "red", "not allowed": "magenta", "unknown": "yellow"}


RegistryOpt = Annotated[
    list[str] | None, typer.Option("--registry", "-r", help="pypi or npm (repeatable); default both")
]


def register(app: typer.Typer) -> None:
    app.add_typer(availability_app, name="availability")
    app.command("check")(check)


def _registries(chosen: list[str] | None) -> tuple[str, ...]:
    from availability.rules import REGISTRIES

    chosen = [r.lower() for r in chosen or REGISTRIES]
    unknown = [r for r in chosen if r not in REGISTRIES]
    if unknown:
        fail(f"I don't know the registry '{unknown[0]}'. Try one of: {', '.join(REGISTRIES)}.")
    return tuple(dict.fromkeys(chosen))


@contextmanager
def cli_checker(settings, registries: tuple[str, ...], offline: bool = False) -> Iterator:
    """A checker for one command: the snapshots, live look-ups (unless ``offline``), and the stack's
    cache and budgets when REDIS_URL names its Redis; its connections closed afterwards."""
    from availability.checker import build_checker

    connection = None
    if settings.redis_url and not offline:
        from store.connection import redis_client

        try:
            connection = redis_client(settings.redis_url, socket_timeout=1)
        except ValueError as err:
            log.warning("REDIS_URL unusable (%s): checking without the cache", err)
    checker = build_checker(settings, registries, connection=connection, live=not offline)
    try:
        yield checker
    finally:
        if checker.live is not None:
            checker.live.close()


def check(
    names: Annotated[list[str], typer.Argument(help="names to look up")],
    registry: RegistryOpt = None,
    offline: Annotated[bool, typer.Option(help="use only the rules and the snapshot; never ask a registry")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per name")] = False,
) -> None:
    """Is NAME free on PyPI and npm. By each registry's rules, its snapshot and a live look-up."""
    if len(names) > MAX_CHECK_NAMES:
        fail(f"{len(names)} names: one check takes at most {MAX_CHECK_NAMES}.")
    from rich.markup import escape
    from rich.table import Table

    from availability.marks import Verdict
    from core.settings import get_settings

    registries = _registries(registry)
    with cli_checker(get_settings(), registries, offline) as checker:
        results = checker.check(names, registries, checker.allowance("cli"))
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
            colour = COLOURS.get(m.verdict.value, "default")
            cells.append(f"[{colour}]{m.verdict.value}[/{colour}]{reason}")
        table.add_row(escape(name), *cells)
    consoles.out.print(table)


@availability_app.command("refresh")
def refresh(
    registry: Annotated[list[str] | None, typer.Argument(help="pypi and/or npm; default both")] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="names from this file instead (JSON list, PEP 691 index, or one per line)"),
    ] = None,
) -> None:
    """Rebuild a registry's snapshot of every name. From its index (PyPI) or a file."""
    from rich.markup import escape

    from availability.config import NotConfigured
    from availability.refresh import refresh_snapshot
    from availability.snapshot import SnapshotStore
    from availability.sources import SourceError
    from core.settings import get_settings

    console = consoles.out
    registries = _registries(registry)
    if from_file is not None and len(registries) != 1:
        fail(
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
    from store.availability import SnapshotStates
    from store.connection import redis_client

    try:
        return SnapshotStates(redis_client(settings.redis_url, socket_timeout=1))
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
def status(as_json: Annotated[bool, typer.Option("--json", help="the states as JSON")] = False) -> None:
    """The snapshots on disk. State (fresh, due, stale or none), age, source, names, memory, false positives."""
    from rich.markup import escape
    from rich.table import Table

    from availability.refresh import snapshot_states
    from availability.snapshot import SnapshotStore
    from core.settings import get_settings

    console = consoles.out
    settings = get_settings()
    store = SnapshotStore(settings.snapshot_dir)
    states = snapshot_states(store, settings)
    if as_json:
        from dataclasses import asdict, is_dataclass

        print_json([asdict(s) if is_dataclass(s) else dict(s) for s in states])
        return
    table = Table("registry", "state", "age", "names", "source", "MiB", "false-positive rate")
    for state in states:
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
