"""The ``tnaas`` command line: train every model offline, evaluate them, generate and complete locally."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from corpora import corpus_names, manifest
from models import catalog
from models.registry import ModelRegistry
from models.training import train_one
from tnaas.errors import TNaaSError
from tnaas.settings import get_settings

app = typer.Typer(help="TNaaS: believable new names in the style of a corpus.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 160)
log = logging.getLogger("tnaas")

CorpusOpt = Annotated[list[str] | None, typer.Option("--corpus", "-c", help="corpus (repeatable); default all")]
ModelOpt = Annotated[list[str] | None, typer.Option("--model", "-m", help="model (repeatable); default the standard set")]


def _registry() -> ModelRegistry:
    return ModelRegistry(get_settings().artifacts_dir)


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    level = logging.DEBUG if verbose else get_settings().log_level
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)])


def _fail_friendly(err: TNaaSError) -> None:
    console.print(f"[red]{err}[/red]")
    raise typer.Exit(2)


@app.command()
def train(corpus: CorpusOpt = None, model: ModelOpt = None, force: bool = typer.Option(False, help="retrain even if up to date")) -> None:
    """Train every corpus x model pair (skipping those already trained on the same data)."""
    registry = _registry()
    pairs = [(c, m) for c in corpus or corpus_names() for m in model or catalog.default_models()]
    start = time.perf_counter()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("training", total=len(pairs))
            for c, m in pairs:
                bar.update(task, description=f"{c}/{m}")
                info, trained = train_one(registry, c, m, force=force)
                log.info("%s/%s %s: held-out %s nats/char", c, m, "trained" if trained else "up to date", _nll(info.metrics["heldout_nll"]))
                bar.advance(task)
    except TNaaSError as err:
        _fail_friendly(err)
    console.print(f"{len(pairs)} models ready in {registry.root} ({time.perf_counter() - start:.1f} s)")


@app.command("eval")
def evaluate(corpus: CorpusOpt = None, model: ModelOpt = None) -> None:
    """Held-out metrics of the trained models, with load time and memory per model."""
    registry = _registry()
    infos = [i for i in registry.trained() if (not corpus or i.corpus in corpus) and (not model or i.model in model)]
    if not infos:
        _fail_friendly(TNaaSError("No trained models yet. Run `tnaas train` first."))
    table = Table("corpus", "model", "held-out nats/char", "chain only", "coverage", "novelty", "states", "train s", "load ms", "memory MB", "version")
    for info in infos:
        start = time.perf_counter()
        loaded, _ = ModelRegistry(registry.root).get(info.corpus, info.model)
        load_ms = 1000 * (time.perf_counter() - start)
        a = loaded.automaton_
        mb = (a.probs.nbytes + a.next_state.nbytes + loaded.tail_.nbytes) / 2**20
        m = info.metrics
        table.add_row(info.corpus, info.model, _nll(m["heldout_nll"]), _nll(m["heldout_nll_chain_only"]), f"{m['heldout_coverage']:.0%}", f"{m['novelty']:.0%}",
                      str(m["states"]), f"{m['train_seconds']:.1f}", f"{load_ms:.0f}", f"{mb:.1f}", info.version)
    console.print(table)


@app.command()
def generate(
    corpus: str,
    n: Annotated[int, typer.Option("-n", min=1, max=200)] = 5,
    model: Annotated[str, typer.Option("--model", "-m")] = "",
    seed: int | None = None,
    include_known: Annotated[bool, typer.Option(help="allow names already in the corpus (marked)")] = False,
    walk: Annotated[bool, typer.Option(help="markovify's plain forward walk instead of the length prior")] = False,
) -> None:
    """Generate n new names in the style of CORPUS."""
    try:
        name_model = _registry().model(corpus, model or get_settings().default_model)
        found = name_model.generate(n, np.random.default_rng(seed), include_known=include_known, walk=walk)
    except TNaaSError as err:
        _fail_friendly(err)
    _print_candidates(found)


@app.command()
def complete(
    pattern: str,
    corpus: Annotated[str, typer.Option("--corpus", "-c")] = "pokemon",
    n: Annotated[int, typer.Option("-n", min=1, max=200)] = 5,
    model: Annotated[str, typer.Option("--model", "-m")] = "",
    seed: int | None = None,
) -> None:
    """Complete PATTERN (each * is exactly one unknown character), most likely first."""
    try:
        name_model = _registry().model(corpus, model or get_settings().default_model)
        found = name_model.complete(pattern, n, np.random.default_rng(seed))
    except TNaaSError as err:
        _fail_friendly(err)
    if not found:
        console.print("No completion found.")
    _print_candidates(found)


@app.command()
def corpora() -> None:
    """The corpora, with their sources and licenses."""
    table = Table("corpus", "names", "source", "license")
    for name, meta in manifest().items():
        table.add_row(name, str(meta["count"]), meta["source"], meta["license"])
    console.print(table)


@app.command()
def models() -> None:
    """The models that can be trained and picked."""
    table = Table("model", "what it is", "trained by default")
    defaults = catalog.default_models()
    for kind, (_, orders, _) in catalog.KINDS.items():
        for k in orders:
            name = f"{kind}{k}"
            table.add_row(name, catalog.describe(name), "yes" if name in defaults else "")
    console.print(table)


def _nll(value: float | None) -> str:
    return "inf (unsmoothed)" if value is None else f"{value:.3f}"


def _print_candidates(found) -> None:
    for i, c in enumerate(found, 1):
        mark = "  [dim](already in the corpus)[/dim]" if c.known else ""
        console.print(f"{i:>2}. {c.name}  [dim]{c.nll_per_char:.2f} nats/char[/dim]{mark}")
