"""What the command line writes, and where: answers on stdout, errors and logs on stderr, as gh and
httpie do, so ``tnaas generate pypi --json | jq`` sees the answer alone."""

from __future__ import annotations

import functools
import json

import typer

EXIT_USAGE = 2  # the user's input (or the operator's setting) is wrong: saying so, not retrying, is the fix
# A server process (`tnaas web`) that cannot run as configured (its port is taken): sysexits' EX_CONFIG,
# which `tnaas up` takes as "stop the stack and say so", where any other exit is restarted.
EXIT_CONFIG = 78


class Consoles:
    """rich consoles, made on first use (rich's import is not free, and `--help` does without it)."""

    @functools.cached_property
    def out(self):
        from rich.console import Console

        return Console(width=None if Console().is_terminal else 160)

    @functools.cached_property
    def err(self):
        from rich.console import Console

        return Console(stderr=True, width=None if Console(stderr=True).is_terminal else 160)


consoles = Consoles()


def fail(err: Exception | str) -> None:
    """Say what is wrong on stderr, in red, and exit 2."""
    from rich.markup import escape

    consoles.err.print(f"[red]{escape(str(err))}[/red]", soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def print_json(data) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
