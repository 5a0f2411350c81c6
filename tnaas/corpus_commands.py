"""``tnaas corpus add|list|rm``: the operator's own corpora, trained here and kept in the stack's Redis,
where every worker serves them to everyone (a team's own, added through the API, are its alone)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from tnaas.terminal import consoles, fail, print_json

corpus_app = typer.Typer(
    help="The operator's own corpora: shared by everyone, trained from a list of names.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
JsonOption = Annotated[bool, typer.Option("--json", help="print the API's JSON")]


def register(app: typer.Typer) -> None:
    app.add_typer(corpus_app, name="corpus")


@contextmanager
def _team_corpora():
    """The stack's corpora store (its Redis: REDIS_URL or the embedded one), or a friendly exit."""
    from store.team_corpora import TeamCorpora
    from tnaas.redis_server import required_stack_redis

    with required_stack_redis(
        "No stack to keep it in: start it (`make run`), or set REDIS_URL to its Redis."
    ) as connection:
        yield TeamCorpora(connection)


@corpus_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="what requests will call it, e.g. norse-gods")],
    file: Annotated[Path, typer.Argument(help="one name per line (UTF-8; a CSV's first column)", dir_okay=False)],
    as_json: JsonOption = False,
) -> None:
    """Add or replace a corpus for everyone from a file of names. Trained here, then served by every worker."""
    import uuid

    from core.errors import TNaaSError
    from corpora import judge_corpus_names
    from corpora.team import check_room, check_slug, check_upload, dropped_summary
    from jobs.contracts import CorpusJob
    from jobs.queueing import corpus_lock_seconds
    from jobs.tasks import train_and_publish
    from store.team_corpora import OPERATOR

    try:
        slug = check_slug(name, judge_corpus_names())
        data = file.read_bytes()
    except TNaaSError as err:
        fail(err)
    except OSError as err:
        fail(TNaaSError(f"Cannot read {file}: {err.strerror}."))
    try:
        checked = check_upload(data)
    except TNaaSError as err:
        fail(err)
    from core.settings import get_settings

    settings = get_settings()
    with _team_corpora() as store:
        try:
            check_room(store.slugs(OPERATOR), slug)
        except TNaaSError as err:
            fail(err)
        if store.stored_bytes() >= settings.team_corpora_mb * 1_048_576:
            fail(
                TNaaSError(
                    f"Team corpora take all of TNAAS_TEAM_CORPORA_MB ({settings.team_corpora_mb} MB): raise it or remove one."
                )
            )
        job_id = f"cli-{uuid.uuid4().hex}"
        about = {"dropped": checked.dropped, "notes": checked.notes}
        if not store.begin(OPERATOR, slug, checked.names, job_id, corpus_lock_seconds(settings), about):
            fail(TNaaSError(f"The corpus {slug} is being trained from another upload right now: try again after it."))
        try:
            done = train_and_publish(store, CorpusJob(owner=OPERATOR, corpus=slug), settings)
        except BaseException:
            store.abort(OPERATOR, slug, job_id)
            raise
    if as_json:
        print_json(done)
        return
    report = done.get("report")
    if done["status"] != "ready" or report is None:
        fail(TNaaSError(f"{slug} was not kept: {done['status']}."))
    consoles.out.print(
        f"{slug}: {report['names']:,} names ({dropped_summary(checked)}), model {report['model']}, "
        f"held-out {report['heldout_nll'] if report['heldout_nll'] is not None else '-'} nats/char, "
        f"{report['reservoir']:,} names ready, trained in {report['seconds']} s"
    )
    for note in report["notes"]:
        consoles.out.print(f"note: {note}")
    consoles.out.print("e.g. " + ", ".join(report["examples"]))
    if report["warning"]:
        consoles.err.print(f"[yellow]{report['warning']}[/yellow]")


@corpus_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The operator's corpora: names, model, state. (`tnaas corpora` lists the built-in ones.)"""
    from rich.table import Table

    from store.team_corpora import OPERATOR

    with _team_corpora() as store:
        states = store.states(OPERATOR)
    rows = [
        {
            "corpus": slug,
            "status": state.get("status"),
            "names": (state.get("report") or {}).get("names", state.get("uploaded")),
            "model": (state.get("report") or {}).get("model"),
            "version": state.get("version"),
        }
        for slug, state in states.items()
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        consoles.out.print("No corpora added yet: `tnaas corpus add NAME FILE`.")
        return
    table = Table("corpus", "status", "names", "model", "version", title="Added corpora (shared by everyone)")
    for row in rows:
        table.add_row(
            row["corpus"], row["status"], f"{row['names'] or 0:,}", row["model"] or "-", row["version"] or "-"
        )
    consoles.out.print(table)


@corpus_app.command("rm")
def rm(name: Annotated[str, typer.Argument(help="a corpus `tnaas corpus list` shows")]) -> None:
    """Delete a corpus: its list, its models, and every name shown from it with its votes."""
    from core.errors import TNaaSError, shown
    from store.team_corpora import OPERATOR, corpus_id
    from store.votes import VoteStore

    slug = name.strip().lower()
    with _team_corpora() as store:
        if not store.delete(OPERATOR, slug):
            fail(TNaaSError(f"There is no added corpus called '{shown(name)}': `tnaas corpus list` shows them."))
        impressions = VoteStore(store.redis).forget_corpus(corpus_id(OPERATOR, slug))
    consoles.out.print(f"Deleted {slug} and {impressions} name(s) shown from it.")
