"""The ``tnaas`` command line: train every model offline, evaluate them, generate and complete locally."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core import model_names
from core.artifacts import fingerprint, trained_name_models
from core.errors import ModelNotTrained, OperatorError, TNaaSError
from core.limits import SEED_MAX
from core.observability import configure_logging
from core.settings import get_settings
from core.standings import standings
from corpora import corpus_names, manifest
from jobs.contracts import (
    CompleteRequest,
    DetectReply,
    DetectRequest,
    GenerateRequest,
    LikeRequest,
    NamesReply,
    UserError,
    first_problem,
    percentages,
)
from store.arms import ArmCounts
from store.votes import VoteStore
from tnaas import availability_commands

if TYPE_CHECKING:
    from models.registry import ModelRegistry

app = typer.Typer(help="TNaaS: believable new names in the style of a corpus.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 160)
log = logging.getLogger("tnaas")

CorpusOpt = Annotated[list[str] | None, typer.Option("--corpus", "-c", help="corpus (repeatable); default all")]
ModelOpt = Annotated[
    list[str] | None, typer.Option("--model", "-m", help="model (repeatable); default the standard set")
]


def _registry() -> ModelRegistry:
    """The models, imported only by the commands that load them: `tnaas web` starts without them."""
    from models.registry import ModelRegistry

    return ModelRegistry(get_settings().artifacts_dir)


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    settings = get_settings()
    level = logging.DEBUG if verbose else settings.log_level
    if console.is_terminal and settings.log_format == "text":
        configure_logging(level, "text", RichHandler(console=console, show_path=False))
    else:  # under `tnaas up`, a Procfile runner, a container or CI: one line per record, plain or JSON
        configure_logging(level, settings.log_format)


def _fail_friendly(err: TNaaSError | OperatorError) -> None:
    console.print(f"[red]{err}[/red]")
    raise typer.Exit(2)


ARGUMENT_ORDER = ("pattern", "name", "corpus", "model", "n")  # which problem of a command is told first


def _request(kind: type[BaseModel], **fields):
    """The request, which checks itself; its first problem ends the command (exit 2) in its words."""
    try:
        return kind(**fields)
    except ValidationError as err:
        _fail_friendly(first_problem(err, ARGUMENT_ORDER))


# The options every request command takes, defined once. Seeds as every surface takes them (0..SEED_MAX).
SeedOption = Annotated[int | None, typer.Option(min=0, max=SEED_MAX, help="same seed, same names")]
NOption = Annotated[int | None, typer.Option("-n", help="default TNAAS_DEFAULT_N, at most TNAAS_MAX_N")]
ModelOption = Annotated[str, typer.Option("--model", "-m", help="default: as in Slack")]
CorpusOption = Annotated[str | None, typer.Option("--corpus", "-c", help="default TNAAS_DEFAULT_CORPUS")]


@app.command()
def train(
    corpus: CorpusOpt = None,
    model: ModelOpt = None,
    force: bool = typer.Option(False, help="retrain even if up to date"),
    classifiers: bool = typer.Option(True, help="also train the corpus judge and the language detector"),
    reranker: bool = typer.Option(True, help="also train the reranker from the team's votes, when there are enough"),
    votes: Annotated[
        typer.FileText | None, typer.Option(help="votes from a `tnaas votes export` file; default the stack's Redis")
    ] = None,
) -> None:
    """Train every corpus x model pair, the judge, the language detector and the reranker (skipping what is up to date)."""
    from models.training import train_judge, train_language, train_one

    registry = _registry()
    pairs = [(c, m) for c in corpus or corpus_names() for m in model or model_names.default_models()]
    start = time.perf_counter()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("training", total=len(pairs) + (2 if classifiers else 0))
            for c, m in pairs:
                bar.update(task, description=f"{c}/{m}")
                info, trained = train_one(registry, c, m, force=force)
                log.info(
                    "%s/%s %s: held-out %s nats/char",
                    c,
                    m,
                    "trained" if trained else "up to date",
                    _nll(info.metrics["heldout_nll"]),
                )
                bar.advance(task)
            if classifiers:
                bar.update(task, description="judge (which corpus?)")
                info, trained = train_judge(registry, force=force)
                log.info(
                    "judge %s: held-out accuracy %.3f, macro-F1 %.3f",
                    "trained" if trained else "up to date",
                    info.metrics["accuracy"],
                    info.metrics["macro_f1"],
                )
                bar.advance(task)
                bar.update(task, description="language detector")
                info, trained = train_language(registry, force=force)
                log.info(
                    "language %s: held-out accuracy words %.3f, pairs %.3f, sentences %.3f",
                    "trained" if trained else "up to date",
                    info.metrics["words"]["accuracy"],
                    info.metrics["pairs"]["accuracy"],
                    info.metrics["sentences"]["accuracy"],
                )
                bar.advance(task)
    except (TNaaSError, OperatorError) as err:
        _fail_friendly(err)
    total = len(pairs) + (2 if classifiers else 0)
    if reranker:
        total += _train_reranker(registry, votes, force)
    _publish(registry)
    console.print(f"{total} models ready in {registry.root} ({time.perf_counter() - start:.1f} s)")


def _publish(registry: ModelRegistry) -> None:
    """Tell a running stack (REDIS_URL, or `tnaas up`'s) which version is deployed: its workers load it
    between jobs. Without a stack (an image build) there is nobody to tell; the web process
    publishes at its start."""
    from store.deploys import ModelVersions
    from tnaas.redis_server import running_stack_redis

    settings = get_settings()
    try:
        connection = running_stack_redis(settings.redis_url, settings.data_dir)
        if connection is not None:
            log.info("models version %s published", ModelVersions(connection).publish(fingerprint(registry.root)))
    except RedisError as err:
        log.warning("models trained, but not published: Redis at REDIS_URL does not answer (%s)", err)


def _train_reranker(registry: ModelRegistry, votes, force: bool) -> int:
    """Train (or skip, saying why) the reranker; publish the new version to a running stack."""
    import json

    from models.training import train_reranker
    from tnaas.redis_server import stack_redis

    settings = get_settings()
    with stack_redis(settings.redis_url, settings.data_dir) as connection:
        if votes is not None:
            rows = [json.loads(line) for line in votes if line.strip()]
        elif connection is not None:
            rows = list(VoteStore(connection).export())
        else:
            log.info("reranker not trained: no votes yet (the stack has never run)")
            return 0
        info, message = train_reranker(registry, rows, force=force)
        log.info("%s", message)
        if info is None:
            return 0
        log.info(
            "reranker held-out ROC AUC %s (judge's believability alone: %s) on %s impressions",
            info.metrics.get("heldout_auc"),
            info.metrics.get("believability_auc"),
            info.metrics.get("heldout_rows"),
        )
    return 1


@app.command("eval")
def evaluate(corpus: CorpusOpt = None, model: ModelOpt = None) -> None:
    """Held-out metrics of the trained models, with load time and memory per model."""
    from models.registry import ModelRegistry

    registry = _registry()
    infos = [i for i in registry.trained() if (not corpus or i.corpus in corpus) and (not model or i.model in model)]
    estimators = {i.model: i for i in registry.estimator_infos()} if not (corpus or model) else {}
    if not infos and not estimators:
        _fail_friendly(TNaaSError("No trained models yet. Run `tnaas train` first."))
    table = Table(
        "corpus",
        "model",
        "held-out nats/char",
        "chain only",
        "coverage",
        "novelty",
        "states",
        "train s",
        "load ms",
        "memory MB",
        "version",
    )
    for info in infos:
        start = time.perf_counter()
        loaded, _ = ModelRegistry(registry.root).get(info.corpus, info.model)  # a fresh one: timed from disk
        load_ms = 1000 * (time.perf_counter() - start)
        a = loaded.automaton_
        mb = (a.probs.nbytes + a.next_state.nbytes + loaded.tail_.nbytes) / 2**20
        m = info.metrics
        table.add_row(
            info.corpus,
            info.model,
            _nll(m["heldout_nll"]),
            _nll(m["heldout_nll_chain_only"]),
            f"{m['heldout_coverage']:.0%}",
            f"{m['novelty']:.0%}",
            str(m["states"]),
            f"{m['train_seconds']:.1f}",
            f"{load_ms:.0f}",
            f"{mb:.1f}",
            info.version,
        )
    if infos:
        console.print(table)
    if "judge" in estimators:
        _print_judge(estimators["judge"].metrics)
    if "language" in estimators:
        _print_language(estimators["language"].metrics)


def _print_judge(m: dict) -> None:
    console.print(
        f"[bold]judge[/bold]: held-out accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} "
        f"on {m['heldout_names']} names; on pokemon/pypi/npm names: {m['hard_case_accuracy']:.3f}"
    )
    confusion = Table("true \\ predicted", *m["labels"], title="judge confusion matrix (held-out names)")
    for label, row in zip(m["labels"], m["confusion"]):
        confusion.add_row(label, *map(str, row))
    console.print(confusion)
    if verdict := m.get("pokemon_or_tech"):
        console.print(
            f"[bold]Pokemon or tech?[/bold] held-out accuracy {verdict['accuracy']:.3f} "
            f"(Pokemon {verdict['pokemon_right']:.3f}, tech {verdict['tech_right']:.3f}) on {verdict['names']} names"
        )
        table = Table("true \\ verdict", "pokemon", "tech", title="Pokemon or tech? (held-out names)")
        for side, row in verdict["confusion"].items():
            table.add_row(side, str(row["pokemon"]), str(row["tech"]))
        console.print(table)


def _print_language(m: dict) -> None:
    from models.language import NAMES as LANGUAGE_NAMES

    sets = [s for s in ("words", "pairs", "sentences", "vocabulary") if s in m]
    summary = Table(
        "held-out set",
        "items",
        "accuracy",
        "answers (not unknown)",
        "accuracy when answering",
        title=f"language detector (temperature per length band: {', '.join(map(str, m['temperatures']))})",
    )
    for s in sets:
        summary.add_row(
            s,
            str(m[s]["items"]),
            f"{m[s]['accuracy']:.3f}",
            f"{m[s]['answered']:.3f}",
            f"{m[s]['accuracy_when_answered']:.3f}",
        )
    console.print(summary)
    per = Table("language", *sets, title="language detector accuracy per language")
    for lang in m[sets[0]]["per_language"]:
        cells = (m[s]["per_language"][lang] for s in sets)
        per.add_row(f"{lang} {LANGUAGE_NAMES.get(lang, '')}", *("-" if c is None else f"{c:.2f}" for c in cells))
    console.print(per)


def _answer(request) -> NamesReply | DetectReply:
    """The pipeline Slack and the API use, with the running stack's votes for the bandit when one answers."""
    from jobs.pipeline import answer
    from tnaas.redis_server import running_stack_redis

    settings = get_settings()
    registry = _registry()
    asked = getattr(request, "model", None)
    if asked and not registry.is_trained(request.corpus, asked):
        _fail_friendly(ModelNotTrained(str(registry.path(request.corpus, asked))))  # the operator's view of it
    stack = (
        running_stack_redis(settings.redis_url, settings.data_dir)
        if isinstance(request, GenerateRequest | CompleteRequest | LikeRequest)
        else None
    )
    reply = answer(request, registry, ArmCounts(stack) if stack is not None else None, settings)
    if isinstance(reply, UserError):
        _fail_friendly(TNaaSError(reply.error))
    return reply


@app.command()
def generate(
    corpus: str,
    n: NOption = None,
    model: ModelOption = "",
    seed: SeedOption = None,
    include_known: Annotated[bool, typer.Option(help="allow names already in the corpus (marked)")] = False,
    raw: Annotated[bool, typer.Option(help="plain model samples: no ranking, no bandit")] = False,
    walk: Annotated[
        bool, typer.Option(help="markovify's plain forward walk instead of the length prior (implies --raw)")
    ] = False,
) -> None:
    """Generate n new names in the style of CORPUS, ranked as Slack and the API rank them."""
    settings = get_settings()
    request = _request(
        GenerateRequest, corpus=corpus, model=model, n=n or settings.default_n, seed=seed, include_known=include_known
    )
    try:
        if raw or walk:
            import numpy as np

            from jobs.pipeline import default_model

            registry = _registry()
            name_model = registry.model(
                request.corpus, request.model or default_model(request.corpus, registry, settings)
            )
            found = name_model.generate(request.n, np.random.default_rng(seed), include_known=include_known, walk=walk)
            _print_names([(c.name, c.nll_per_char, c.known) for c in found])
            return
    except (TNaaSError, OperatorError) as err:
        _fail_friendly(err)
    _print_reply(_answer(request))


@app.command()
def complete(
    pattern: str,
    corpus: CorpusOption = None,
    n: NOption = None,
    model: ModelOption = "",
    seed: SeedOption = None,
) -> None:
    """Complete PATTERN (each * is exactly one unknown character), most likely first."""
    settings = get_settings()
    request = _request(
        CompleteRequest,
        pattern=pattern,
        corpus=corpus or settings.default_corpus,
        model=model,
        n=n or settings.default_n,
        seed=seed,
    )
    reply = _answer(request)
    if not reply.candidates:
        console.print("No completion found.")
    _print_reply(reply)


@app.command()
def like(
    name: str,
    corpus: CorpusOption = None,
    n: NOption = None,
    model: ModelOption = "",
    seed: SeedOption = None,
) -> None:
    """Believable names one to three edits from NAME, ranked as generation ranks (never NAME, never a corpus name)."""
    settings = get_settings()
    request = _request(
        LikeRequest,
        name=name,
        corpus=corpus or settings.default_corpus,
        model=model,
        n=n or settings.default_n,
        seed=seed,
    )
    reply = _answer(request)
    for i, c in enumerate(reply.candidates, 1):
        edits = f"{c.edits} edit{'s' if c.edits != 1 else ''}, " if c.edits else ""
        console.print(f"{i:>2}. {c.name}  [dim]{edits}{-c.log_prob / (len(c.name) + 1):.2f} nats/char[/dim]")


@app.command("is")
def is_(text: Annotated[list[str], typer.Argument(help="a name, or any text")]) -> None:
    """What does a name (or a text) sound like: corpora, and languages where they mean something."""
    _sounds_like(" ".join(text))


@app.command("detect")
def detect(text: Annotated[list[str], typer.Argument(help="a name, or any text")]) -> None:
    """Same as `is`; `lang` is another alias."""
    _sounds_like(" ".join(text))


app.command("lang", hidden=True)(detect)


def _sounds_like(text: str) -> None:
    answer = _answer(_request(DetectRequest, text=text)).answer
    if answer.real_in:
        console.print(f"[bold]{answer.text}[/bold] is a real name in: {', '.join(answer.real_in)}")
    if answer.verdict:
        console.print(f"Pokemon or tech? {answer.verdict.name} {answer.verdict.probability:.0%}")
    if answer.corpora:
        console.print(f"sounds like: {percentages(answer.corpora)}")
    if answer.language != "unknown":
        console.print(f"language: {percentages(answer.languages)}")
    for note in answer.notes:
        console.print(f"[dim]{note}[/dim]")


@app.command()
def worker(burst: bool = typer.Option(False, help="exit when the queue is empty")) -> None:
    """Run one worker: loads every model once, then takes jobs from Redis; /metrics on its own port."""
    from jobs import worker as model_worker
    from jobs.metrics import serve_worker_metrics
    from store.connection import redis_client

    settings = get_settings()
    if settings.metrics:
        serve_worker_metrics(settings.worker_metrics_port)
    model_worker.run(redis_client(settings.redis_url or "redis://127.0.0.1:6379/0"), settings, burst=burst)


@app.command()
def web() -> None:
    """Run the web process (the page, the API, Slack's endpoint, /healthz, /metrics) on $PORT or TNAAS_PORT."""
    import uvicorn

    from bot.web import create_app
    from store.connection import redis_client
    from store.deploys import ModelVersions

    settings = get_settings()
    if settings.web_host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        log.warning("listening on %s with no TNAAS_API_TOKEN: anyone who reaches it can use the API", settings.web_host)
    try:  # the deploy's front door says which models this release carries (workers compare and reload)
        connection = redis_client(settings.redis_url or "redis://127.0.0.1:6379/0")
        log.info("models version %s published", ModelVersions(connection).publish(fingerprint(settings.artifacts_dir)))
    except RedisError as err:
        log.warning("models version not published: Redis does not answer (%s); /healthz will say so", err)
    uvicorn.run(
        create_app(),
        host=settings.web_host,
        port=settings.web_port,
        log_config=None,  # uvicorn's loggers go through ours (plain or JSON, with request ids)
        access_log=False,  # bot.metrics logs one line per request, with its id and route
        # X-Forwarded-For / -Proto only from the proxies listed (none by default): anyone else could
        # pose as any address and walk around the per-address rate limits.
        proxy_headers=bool(settings.forwarded_allow_ips.strip()),
        forwarded_allow_ips=settings.forwarded_allow_ips.strip() or None,
        # SIGTERM (a restart, a deploy): stop accepting, answer the requests in flight (an API
        # request waits at most TNAAS_API_WAIT), then exit.
        timeout_graceful_shutdown=settings.api_wait + 5,
    )


@app.command()
def scheduler() -> None:
    """Enqueue the upkeep jobs (retrain the reranker when due, purge old votes) on a schedule. Run one."""
    from jobs.schedule import scheduler as make_scheduler
    from store.connection import redis_client, wait_for_redis

    settings = get_settings()
    connection = redis_client(settings.redis_url or "redis://127.0.0.1:6379/0")
    wait_for_redis(connection)
    make_scheduler(connection, settings).start()


@app.command()
def up() -> None:
    """Bring up the stack: Redis (embedded unless REDIS_URL is set), web and workers. Ctrl-C stops all."""
    from tnaas.supervisor import Supervisor

    settings = get_settings()
    if not trained_name_models(settings.artifacts_dir):
        _fail_friendly(TNaaSError("No trained models yet. Run `tnaas train` first."))
    raise typer.Exit(Supervisor(settings).run())


@contextmanager
def _vote_store():
    """The VoteStore of the stack's Redis (see ``stack_redis``), or a friendly exit when there is none."""
    from tnaas.redis_server import stack_redis

    settings = get_settings()
    with stack_redis(settings.redis_url, settings.data_dir) as connection:
        if connection is None:
            _fail_friendly(TNaaSError("No votes yet: start the stack (`make run`), or set REDIS_URL to its Redis."))
        yield VoteStore(connection)


availability_commands.register(app)  # `tnaas check NAME...`, `tnaas availability refresh|status`

votes_app = typer.Typer(help="The reranking dataset: impressions and their votes.")
app.add_typer(votes_app, name="votes")


@votes_app.command("export")
def votes_export(
    out: Annotated[typer.FileTextWrite, typer.Option("--out", "-o", help="file; default stdout")] = "-",
) -> None:
    """Every impression with its votes as JSON lines, in the order shown (re-running gives the same rows)."""
    import json

    rows = 0
    with _vote_store() as store:
        for row in store.export():
            out.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            rows += 1
    log.info("exported %d impressions", rows)


@votes_app.command("forget")
def votes_forget(
    user: Annotated[str, typer.Option("--user", "-u", help="the person: a Slack user id (U…/W…) or a page voter id")],
) -> None:
    """Delete one person's votes and the requests they made (a privacy request); counts move back."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", user):
        _fail_friendly(TNaaSError(f"'{user}' is not a user id: Slack's look like U012AB3CD."))
    from store.slack_teams import TeamHabits

    with _vote_store() as store:
        votes, requests = store.forget_user(user)
        TeamHabits(store.redis).forget(user)
    console.print(f"Deleted {votes} vote(s) and {requests} shown name(s) requested by {user}.")


@votes_app.command("standings")
def votes_standings(
    corpus: Annotated[str | None, typer.Option("--corpus", "-c", help="models of one corpus; default all")] = None,
) -> None:
    """The bandit's view: each model's and corpus' up-vote rate (posterior mean, 90% interval, chance of being best)."""
    with _vote_store() as store:
        arms = ArmCounts(store.redis)
        tables = [("model", arms.counts("model", corpus)), ("corpus", arms.counts("corpus"))]
    for kind, counts in tables:
        table = Table(kind, "shown", "up-voted", "up-vote rate", "90% interval", "P(best)", title=f"{kind} standings")
        for s in standings(counts):
            table.add_row(
                s.arm, str(s.shown), str(s.up), f"{s.mean:.1%}", f"{s.low:.1%} - {s.high:.1%}", f"{s.p_best:.0%}"
            )
        console.print(table)


@app.command()
def drift() -> None:
    """Do recent requests still look like the reranker's training data? Says when to retrain."""
    from models.drift import check_drift

    info = _registry().estimator_info("reranker")
    if info is None:
        _fail_friendly(TNaaSError("No reranker yet, so nothing has been trained on votes: nothing to drift from."))
    with _vote_store() as store:
        rows = list(store.export())
    cut = info.metrics["trained_until"]
    report = check_drift([r for r in rows if r["shown_at"] <= cut], [r for r in rows if r["shown_at"] > cut])
    if report.accuracy is not None:
        console.print(
            f"old-vs-new classifier: accuracy {report.accuracy:.3f} (drift above {report.threshold:.3f}), "
            f"ROC AUC {report.auc:.3f}, on {report.compared} impressions per side "
            f"({report.old} seen by the reranker, {report.new} since)"
        )
    console.print(report.advice)
    if report.drifted:
        raise typer.Exit(1)


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
    defaults = model_names.default_models()
    for name in model_names.all_model_names():
        table.add_row(name, model_names.describe(name), "yes" if name in defaults else "")
    console.print(table)


def _nll(value: float | None) -> str:
    return "inf (unsmoothed)" if value is None else f"{value:.3f}"


def _print_reply(reply: NamesReply) -> None:
    _print_names([(c.name, -c.log_prob / (len(c.name) + 1), c.known) for c in reply.candidates])
    how = f"{reply.model} ({reply.model_chosen_by})" + (
        f", ranked by {reply.ranked_by}" if reply.pattern is None else ""
    )
    log.info("model %s", how)


def _print_names(names: list[tuple[str, float, bool]]) -> None:
    """``(name, nats per character, already in the corpus)``, numbered from 1."""
    for i, (name, nll, known) in enumerate(names, 1):
        mark = "  [dim](already in the corpus)[/dim]" if known else ""
        console.print(f"{i:>2}. {name}  [dim]{nll:.2f} nats/char[/dim]{mark}")
