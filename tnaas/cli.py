"""The ``tnaas`` command line: train every model offline, evaluate them, generate and complete locally.

Quiet and quick, as gh and httpie are: a command prints its answer and nothing else (``-v`` adds what it
does, ``-vv`` everything), ``--json`` gives the answer as the API gives it, and each command imports
what it needs in its own body -- ``tnaas --help`` loads typer and the limits, ``generate`` the pipeline,
never the web process or the training code (bench/cli.py measures both).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from core.limits import DEFAULT_N, MAX_N, SEED_MAX, STACK_STOP_SECONDS
from tnaas import availability_commands, corpus_commands
from tnaas.terminal import EXIT_CONFIG, consoles, fail, print_json

if TYPE_CHECKING:
    from pydantic import BaseModel

    from jobs.contracts import DetectReply, NamesReply
    from models.registry import ModelRegistry

app = typer.Typer(
    help="TNaaS: believable new names in the style of a corpus.",
    no_args_is_help=True,
    # click's plain help, as gh's and httpie's: wrapped to the terminal (80 columns at most), every option
    # name whole, and without rich's help renderer, whose imports alone take longer than the command
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"max_content_width": 80, "help_option_names": ["-h", "--help"]},
)
log = logging.getLogger("tnaas")

CorpusOpt = Annotated[list[str] | None, typer.Option("--corpus", "-c", help="corpus (repeatable); default all")]
ModelOpt = Annotated[
    list[str] | None, typer.Option("--model", "-m", help="model (repeatable); default the standard set")
]
JsonOption = Annotated[bool, typer.Option("--json", help="the answer as JSON, as the API gives it")]


def _shown(setting: str, default: int) -> str:
    """A setting's value as help shows it: the environment's, else its default (without reading the
    settings, which would cost `--help` its speed)."""
    return os.environ.get(f"TNAAS_{setting.upper()}", str(default))


def _registry() -> ModelRegistry:
    """The models, imported only by the commands that load them: `tnaas web` starts without them."""
    from core.settings import get_settings
    from models.registry import ModelRegistry

    settings = get_settings()
    return ModelRegistry(settings.artifacts_dir, settings.learnt_dir)


@app.callback()
def _setup(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, show_default=False, help="-v: say what it does; -vv: debug")
    ] = 0,
) -> None:
    """Quiet unless asked: the answer is the output. TNAAS_LOG_LEVEL, when set, is the level without -v."""
    from core.observability import configure_logging

    level = {0: os.environ.get("TNAAS_LOG_LEVEL", "WARNING").upper(), 1: logging.INFO}.get(verbose, logging.DEBUG)
    if consoles.err.is_terminal:
        from rich.logging import RichHandler

        configure_logging(level, "text", RichHandler(console=consoles.err, show_path=False, highlighter=None))
    else:
        configure_logging(level, "text")


def _serve_logging() -> None:
    """The long-running processes (up, web, worker, scheduler) log as TNAAS_LOG_LEVEL and _FORMAT say:
    one line per record, plain or JSON, libraries' INFO chatter at DEBUG."""
    from core.observability import configure_logging
    from core.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


ARGUMENT_ORDER = ("pattern", "name", "corpus", "model", "n")  # which problem of a command is told first


def _request(kind: type[BaseModel], **fields):
    """The request, which checks itself; its first problem ends the command (exit 2) in its words."""
    from pydantic import ValidationError

    from jobs.contracts import first_problem

    try:
        return kind(**fields)
    except ValidationError as err:
        fail(first_problem(err, ARGUMENT_ORDER))


def _n(n: int | None) -> int:
    """``-n`` as the API takes it: absent is the default, anything else is checked (0 is refused)."""
    if n is not None:
        return n
    from core.settings import get_settings

    return get_settings().default_n


# The options every request command takes, defined once. Seeds as every surface takes them (0..SEED_MAX).
SeedOption = Annotated[int | None, typer.Option(min=0, help=f"same seed, same names (0 to {SEED_MAX:.1e})")]
NOption = Annotated[
    int | None,
    typer.Option(
        "-n",
        help=f"how many names: 1 to {_shown('max_n', MAX_N)}, default {_shown('default_n', DEFAULT_N)}",
        show_default=False,
    ),
]
ModelOption = Annotated[str, typer.Option("--model", "-m", help="default: as in Slack", show_default=False)]
CorpusOption = Annotated[
    str | None, typer.Option("--corpus", "-c", help=f"default {_shown('default_corpus', 'pypi')}", show_default=False)
]


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
    background: Annotated[bool, typer.Option(hidden=True, help="`tnaas up`'s trainer: what the stack lacks")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, help="processes at once; 0: one per core, up to 4")] = 0,
) -> None:
    """Train the models. Every corpus x model pair, the judge, the language detector and the reranker,
    skipping what is up to date."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from core import model_names
    from core.errors import OperatorError, TNaaSError
    from corpora import corpus_names
    from models.training import train_ranking
    from models.training_plan import running, train_tasks

    console = consoles.out
    registry = _registry()
    if background:
        _train_in_background(registry)
        return
    pairs = [(c, m) for c in corpus or corpus_names() for m in model or model_names.default_models()]
    tasks = train_tasks(pairs, classifiers, force)
    start = time.perf_counter()
    try:
        with (
            running(registry, tasks, jobs or min(4, len(os.sched_getaffinity(0)))) as done,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar,
        ):
            task = bar.add_task(f"training on {jobs or 'every'} core(s)", total=len(tasks))
            for what, (info, trained), _ in done:
                console.print(f"{what} {'trained' if trained else 'up to date'}: {_trained_metrics(what, info)}")
                bar.advance(task)
            if classifiers:
                bar.update(task, description="ranking columns")
                train_ranking(registry, force)
    except (TNaaSError, OperatorError) as err:
        fail(err)
    total = len(pairs) + (2 if classifiers else 0)
    if reranker:
        total += _train_reranker(registry, votes, force)
    _publish(registry)
    console.print(f"{total} models ready in {registry.root} ({time.perf_counter() - start:.1f} s)")


def _trained_metrics(what: str, info) -> str:
    """The held-out figure `tnaas train` prints for a model it trained or found up to date."""
    m = info.metrics
    if what == "judge":
        return f"held-out accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}"
    if what == "language":
        return (
            f"held-out accuracy words {m['words']['accuracy']:.3f}, pairs {m['pairs']['accuracy']:.3f}, "
            f"sentences {m['sentences']['accuracy']:.3f}"
        )
    return f"held-out {_nll(m['heldout_nll'])} nats/char"


def train_steps(registry: ModelRegistry, steps, connection=None) -> None:
    """Run the training ``steps`` in order (models.training_plan), saying what is ready and what is left;
    with a stack's ``connection``, publish each new version (its workers take it up between jobs) and
    keep its ``TrainingProgress`` (what /healthz and "not ready yet" answers say)."""
    from core.errors import about
    from models.training_plan import run_step
    from store.deploys import ModelVersions
    from store.training import TrainingProgress

    progress = TrainingProgress(connection) if connection is not None else None
    if progress is not None:
        progress.plan([(step.what, step.estimate) for step in steps])
    for i, step in enumerate(steps, 1):
        start = time.perf_counter()
        trained = run_step(registry, step)
        took = time.perf_counter() - start
        if progress is not None:
            progress.step_done(step.what, took)
            if trained:
                ModelVersions(connection).publish(registry.fingerprint())
        left = ""
        if i < len(steps):
            last = max(progress.ready_at().values(), default=0.0) - time.time() if progress is not None else None
            left = f"; still training {len(steps) - i}" + (f", all ready in {about(last)}" if last else "")
        log.info("%s %s (%.1f s)%s", step.what, "ready" if trained else "up to date", took, left)
    if progress is not None:
        progress.finished()


def _train_in_background(registry: ModelRegistry) -> None:
    """What `tnaas up` trains while the stack serves: everything its first minute left out, at a lower
    CPU priority than the workers answering requests."""
    import os
    import signal
    import sys

    from core.settings import get_settings
    from models.training_plan import later_steps
    from store.connection import redis_client

    os.nice(10)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the stack stops: no half-written file left behind
    settings = get_settings()
    connection = redis_client(settings.redis_url) if settings.redis_url else None
    train_steps(registry, later_steps(settings.default_model), connection)
    log.info("every model is trained")


def _publish(registry: ModelRegistry) -> None:
    """Tell a running stack (REDIS_URL, or `tnaas up`'s) which version is deployed: its workers load it
    between jobs. Without a stack (an image build) there is nobody to tell; the web process
    publishes at its start."""
    from redis.exceptions import RedisError

    from core.settings import get_settings
    from store.deploys import ModelVersions
    from tnaas.redis_server import running_stack_redis

    settings = get_settings()
    try:
        connection = running_stack_redis(settings.redis_url, settings.data_dir)
        if connection is not None:
            version = ModelVersions(connection).publish(registry.fingerprint())
            consoles.out.print(f"The running stack's workers load them now (models version {version}).")
    except RedisError as err:
        log.warning("models trained, but not published: Redis at REDIS_URL does not answer (%s)", err)


def _train_reranker(registry: ModelRegistry, votes, force: bool) -> int:
    """Train (or skip, saying why) the reranker; publish the new version to a running stack."""
    import json

    from core.settings import get_settings
    from models.training import train_reranker
    from store.learnt import LearntModels
    from store.votes import VoteStore
    from tnaas.redis_server import stack_redis

    settings = get_settings()
    console = consoles.out
    with stack_redis(settings.redis_url, settings.data_dir) as connection:
        if votes is not None:
            rows = [json.loads(line) for line in votes if line.strip()]
        elif connection is not None:
            rows = list(VoteStore(connection).export())
        else:
            console.print("reranker not trained: no votes yet (the stack has never run)")
            return 0
        info, message = train_reranker(registry, rows, force=force)
        console.print(message)
        if info is None:
            return 0
        if connection is not None and message.startswith("reranker trained"):
            LearntModels(connection).keep(registry.estimator_path("reranker"))  # every machine's workers load it
        console.print(
            f"reranker held-out ROC AUC {info.metrics.get('heldout_auc')} (judge's believability alone: "
            f"{info.metrics.get('believability_auc')}) on {info.metrics.get('heldout_rows')} impressions"
        )
    return 1


@app.command("eval")
def evaluate(corpus: CorpusOpt = None, model: ModelOpt = None, as_json: JsonOption = False) -> None:
    """Held-out metrics of the trained models. With load time and memory per model."""
    from rich.table import Table

    from core.errors import TNaaSError
    from models.registry import ModelRegistry

    registry = _registry()
    infos = [i for i in registry.trained() if (not corpus or i.corpus in corpus) and (not model or i.model in model)]
    if pending := [f"{i.corpus}/{i.model}" for i in infos if not i.metrics.get("evaluated", True)]:
        log.info("not evaluated yet (`tnaas up` trains them first, then evaluates them): %s", ", ".join(pending))
        infos = [i for i in infos if i.metrics.get("evaluated", True)]
    estimators = {i.model: i for i in registry.estimator_infos()} if not (corpus or model) else {}
    if not infos and not estimators:
        fail(TNaaSError("No trained models yet. Run `tnaas train` first."))
    if as_json:
        print_json(
            {
                "models": [i.header() for i in infos],
                "estimators": {name: i.header() for name, i in estimators.items()},
            }
        )
        return
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
        consoles.out.print(table)
    if "judge" in estimators and "accuracy" in estimators["judge"].metrics:  # a first judge has no metrics yet
        _print_judge(estimators["judge"].metrics)
    if "language" in estimators:
        _print_language(estimators["language"].metrics)


def _print_judge(m: dict) -> None:
    from rich.table import Table

    console = consoles.out
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
    from rich.table import Table

    from core.languages import NAMES as LANGUAGE_NAMES

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
    consoles.out.print(summary)
    per = Table("language", *sets, title="language detector accuracy per language")
    for lang in m[sets[0]]["per_language"]:
        cells = (m[s]["per_language"][lang] for s in sets)
        per.add_row(f"{lang} {LANGUAGE_NAMES.get(lang, '')}", *("-" if c is None else f"{c:.2f}" for c in cells))
    consoles.out.print(per)


def _answer(request, availability=None) -> NamesReply | DetectReply:
    """The pipeline Slack and the API use, with the running stack's votes for the bandit when one answers."""
    from core.errors import ModelNotTrained, TNaaSError
    from core.settings import get_settings
    from jobs.contracts import CompleteRequest, GenerateRequest, LikeRequest, UserError
    from jobs.pipeline import answer
    from store.arms import ArmCounts
    from tnaas.redis_server import running_stack_redis

    settings = get_settings()
    registry = _registry()
    asked = getattr(request, "model", None)
    if asked and not registry.is_trained(request.corpus, asked):
        fail(ModelNotTrained(str(registry.path(request.corpus, asked))))  # the operator's view of it
    stack = (
        running_stack_redis(settings.redis_url, settings.data_dir)
        if isinstance(request, GenerateRequest | CompleteRequest | LikeRequest)
        else None
    )
    reply = answer(request, registry, ArmCounts(stack) if stack is not None else None, settings, availability)
    if isinstance(reply, UserError):
        fail(TNaaSError(reply.error))
    return reply


@contextmanager
def _checker(corpus: str, free: bool):
    """The availability checker ``--free`` needs (live look-ups, the snapshots, REDIS_URL's cache), or None."""
    if not free:
        yield None
        return
    from core.settings import get_settings
    from jobs.pipeline import registries_for
    from tnaas.availability_commands import cli_checker

    with cli_checker(get_settings(), registries_for(corpus)) as checker:
        yield checker


@app.command()
def generate(
    corpus: str,
    n: NOption = None,
    model: ModelOption = "",
    seed: SeedOption = None,
    free: Annotated[bool, typer.Option("--free", help="only names free on the corpus' registry")] = False,
    include_known: Annotated[bool, typer.Option("--include-known", help="allow names already in the corpus")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="plain model samples: no ranking, no bandit")] = False,
    walk: Annotated[bool, typer.Option("--walk", help="markovify's plain forward walk (implies --raw)")] = False,
    as_json: JsonOption = False,
) -> None:
    """New names in the style of CORPUS. Ranked as Slack and the API rank them."""
    from core.errors import OperatorError, TNaaSError
    from jobs.contracts import GenerateRequest

    request = _request(
        GenerateRequest, corpus=corpus, model=model, n=_n(n), seed=seed, include_known=include_known, free=free
    )
    if raw or walk:
        import numpy as np

        from core.settings import get_settings
        from jobs.pipeline import default_model

        try:
            registry = _registry()
            chosen = request.model or default_model(request.corpus, registry, get_settings())
            name_model = registry.model(request.corpus, chosen)
        except (TNaaSError, OperatorError) as err:
            fail(err)
        found = name_model.generate(request.n, np.random.default_rng(seed), include_known=include_known, walk=walk)
        if as_json:
            print_json({"candidates": [{"name": c.name, "log_prob": c.log_prob, "known": c.known} for c in found]})
        else:
            _print_names([(c.name, c.known) for c in found])
        return
    with _checker(request.corpus, free) as checker:
        reply = _answer(request, checker)
    _print_reply(reply, as_json)


@app.command()
def complete(
    pattern: str,
    corpus: CorpusOption = None,
    n: NOption = None,
    model: ModelOption = "",
    seed: SeedOption = None,
    as_json: JsonOption = False,
) -> None:
    """Complete PATTERN: each * is one unknown letter. Most likely first."""
    from core.settings import get_settings
    from jobs.contracts import CompleteRequest

    settings = get_settings()
    request = _request(
        CompleteRequest,
        pattern=pattern,
        corpus=corpus or settings.default_corpus,
        model=model,
        n=_n(n),
        seed=seed,
    )
    reply = _answer(request)
    if not reply.candidates and not as_json:
        consoles.err.print("No completion found.")
    _print_reply(reply, as_json)


@app.command()
def like(
    name: str,
    corpus: CorpusOption = None,
    n: NOption = None,
    model: ModelOption = "",
    seed: SeedOption = None,
    free: Annotated[bool, typer.Option("--free", help="only names free on the corpus' registry")] = False,
    as_json: JsonOption = False,
) -> None:
    """Believable names near NAME. One to three edits away; never NAME, never a corpus name."""
    from core.settings import get_settings
    from jobs.contracts import LikeRequest

    settings = get_settings()
    request = _request(
        LikeRequest,
        name=name,
        corpus=corpus or settings.default_corpus,
        model=model,
        n=_n(n),
        seed=seed,
        free=free,
    )
    with _checker(request.corpus, free) as checker:
        reply = _answer(request, checker)
    if as_json:
        print_json(reply.model_dump(mode="json"))
        return
    for i, c in enumerate(reply.candidates, 1):
        edits = f"  [dim]{c.edits} edit{'s' if c.edits != 1 else ''}[/dim]" if c.edits else ""
        consoles.out.print(f"{i:>2}. {c.name}{edits}")
    _say_how(reply)


TextArgument = Annotated[list[str], typer.Argument(help="a name, or any text")]


@app.command("is")
def is_(text: TextArgument, as_json: JsonOption = False) -> None:
    """What a name or a text sounds like. Corpora, and languages where they mean something."""
    _sounds_like(" ".join(text), as_json)


@app.command("detect")
def detect(text: TextArgument, as_json: JsonOption = False) -> None:
    """Same as `is`. `lang` is another alias."""
    _sounds_like(" ".join(text), as_json)


app.command("lang", hidden=True)(detect)


def _sounds_like(text: str, as_json: bool) -> None:
    """A name's answer leads with the corpora it is in or sounds like; a text's with its language."""
    from rich.markup import escape

    from jobs.contracts import DetectRequest, percentages

    answer = _answer(_request(DetectRequest, text=text)).answer
    if as_json:
        print_json(answer.model_dump(mode="json"))
        return
    lines = []
    if answer.real_in:
        lines.append(f"[bold]{escape(answer.text)}[/bold] is a real name in: {', '.join(answer.real_in)}")
    if answer.verdict:
        lines.append(f"Pokemon or tech? {answer.verdict.name} {answer.verdict.probability:.0%}")
    if answer.corpora:
        lines.append(f"sounds like: {percentages(answer.corpora)}")
    if answer.language != "unknown":
        language = f"language: {percentages(answer.languages)}"
        lines.insert(len(lines) if answer.is_name else 0, language)
    lines += [f"[dim]{escape(note)}[/dim]" for note in answer.notes]
    for line in lines:
        consoles.out.print(line)


@app.command()
def worker(burst: bool = typer.Option(False, help="exit when the queue is empty")) -> None:
    """Run one worker. It maps every model once, then takes jobs from Redis; /metrics on its own port."""
    from core.settings import get_settings
    from jobs import worker as model_worker
    from jobs.metrics import serve_worker_metrics
    from store.connection import redis_client

    _serve_logging()
    settings = get_settings()
    if settings.metrics:
        serve_worker_metrics(settings.worker_metrics_port, settings.web_host)
    model_worker.run(redis_client(settings.redis_url or "redis://127.0.0.1:6379/0"), settings, burst=burst)


@app.command()
def web() -> None:
    """Run the web process. The page, the API, Slack's endpoint, /healthz and /metrics, on $PORT or
    TNAAS_PORT."""
    import uvicorn
    from redis.exceptions import RedisError

    from bot.web import create_app
    from core.artifacts import fingerprint
    from core.settings import get_settings
    from store.connection import redis_client
    from store.deploys import ModelVersions
    from store.learnt import LearntModels
    from tnaas.ports import PortTaken, check_free

    _serve_logging()
    settings = get_settings()
    try:  # uvicorn says it in a traceback and exits 1, which a supervisor would take for a crash
        check_free(settings)
    except PortTaken as err:
        log.error("%s", err)
        raise typer.Exit(EXIT_CONFIG) from None
    if settings.web_host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        log.warning("listening on %s with no TNAAS_API_TOKEN: anyone who reaches it can use the API", settings.web_host)
    try:  # the deploy's front door says which models this release carries (workers compare and reload)
        connection = redis_client(settings.redis_url or "redis://127.0.0.1:6379/0")
        LearntModels(connection).share(settings.learnt_dir)  # what the stack learnt, from Redis: the same version
        log.debug(
            "models version %s published",
            ModelVersions(connection).publish(fingerprint(settings.artifacts_dir, settings.learnt_dir)),
        )
    except RedisError as err:
        log.warning("models version not published: Redis does not answer (%s); /healthz will say so", err)
    web_app = create_app()

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            web_app.state.batcher.draining = True  # API requests still waiting answer with their id now
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        web_app,
        host=settings.web_host,
        port=settings.web_port,
        log_config=None,  # uvicorn's loggers go through ours (plain or JSON, with request ids)
        access_log=False,  # bot.metrics logs one line per request, with its id and route
        # X-Forwarded-For / -Proto only from the proxies listed (none by default): anyone else could
        # pose as any address and walk around the per-address rate limits.
        proxy_headers=bool(settings.forwarded_allow_ips.strip()),
        forwarded_allow_ips=settings.forwarded_allow_ips.strip() or None,
        # SIGTERM (a restart, a deploy, `tnaas up` stopping): stop accepting, answer the requests in
        # flight (one still waiting for its job gets its answer id), then exit.
        timeout_graceful_shutdown=STACK_STOP_SECONDS - 1.5,  # within the supervisor's share for it
    )
    Server(config).run()


@app.command()
def scheduler() -> None:
    """Run the upkeep scheduler. It enqueues retraining the reranker when due and purging old votes. Run one."""
    from core.settings import get_settings
    from jobs.schedule import scheduler as make_scheduler
    from store.connection import redis_client, wait_for_redis

    _serve_logging()
    settings = get_settings()
    connection = redis_client(settings.redis_url or "redis://127.0.0.1:6379/0")
    wait_for_redis(connection)
    make_scheduler(connection, settings).start()


@app.command()
def up() -> None:
    """Run the whole stack. Redis (embedded unless REDIS_URL is set), the web process, the workers and
    the scheduler; Ctrl-C stops them all within seconds."""
    from core.artifacts import trained_name_models
    from core.errors import TNaaSError
    from core.settings import get_settings
    from tnaas.ports import PortTaken, check_free
    from tnaas.supervisor import Supervisor

    _serve_logging()
    settings = get_settings()
    if settings.train_on_up:
        try:  # before minutes of training, not after
            check_free(settings)
        except PortTaken as err:
            fail(err)
        from models.training_plan import missing, run_first

        registry = _registry()
        if lacking := missing(registry, settings.default_model):
            import os

            start = time.perf_counter()
            log.info("training what the first requests need first: %s", ", ".join(lacking))
            for what, trained, took in run_first(
                registry, settings.default_model, min(4, len(os.sched_getaffinity(0)))
            ):
                log.info("%s %s (%.1f s)", what, "ready" if trained else "up to date", took)
            log.info(
                "first models ready in %.0f s: serving; the others train in the background (/healthz lists them)",
                time.perf_counter() - start,
            )
    elif not trained_name_models(settings.artifacts_dir):
        fail(TNaaSError("No trained models yet. Run `tnaas train` first."))
    try:
        raise typer.Exit(Supervisor(settings).run())
    except PortTaken as err:
        fail(err)


@contextmanager
def _vote_store():
    """The VoteStore of the stack's Redis (see ``stack_redis``), or a friendly exit when there is none."""
    from store.votes import VoteStore
    from tnaas.redis_server import required_stack_redis

    with required_stack_redis(
        "No votes yet: start the stack (`make run`), or set REDIS_URL to its Redis."
    ) as connection:
        yield VoteStore(connection)


availability_commands.register(app)  # `tnaas check NAME...`, `tnaas availability refresh|status`
corpus_commands.register(app)  # `tnaas corpus add|list|rm`

votes_app = typer.Typer(
    help="The reranking dataset: impressions and their votes.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(votes_app, name="votes")


@votes_app.command("export")
def votes_export(
    out: Annotated[typer.FileTextWrite, typer.Option("--out", "-o", help="file; default stdout")] = "-",
) -> None:
    """Every impression with its votes, as JSON lines. In the order shown: re-running gives the same rows."""
    import json

    rows = 0
    with _vote_store() as store:
        for row in store.export():
            out.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            rows += 1
    log.info("exported %d impressions", rows)


@votes_app.command("forget")
def votes_forget(
    user: Annotated[str, typer.Option("--user", "-u", help="a Slack user id (U…/W…) or a page voter id")],
) -> None:
    """Delete one person's votes, requests and shortlisted names. A privacy request; counts move back."""
    import re

    from core.errors import TNaaSError

    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", user):
        fail(TNaaSError(f"'{user}' is not a user id: Slack's look like U012AB3CD."))
    from store.shortlists import Shortlists
    from store.slack_teams import TeamHabits

    with _vote_store() as store:
        votes, requests = store.forget_user(user)
        TeamHabits(store.redis).forget(user)
        shortlisted = Shortlists(store.redis).forget_user(user)
    consoles.out.print(
        f"Deleted {votes} vote(s), {requests} shown name(s) requested by {user} and {shortlisted} name(s) they shortlisted."
    )


@votes_app.command("standings")
def votes_standings(
    corpus: Annotated[str | None, typer.Option("--corpus", "-c", help="models of one corpus; default all")] = None,
    as_json: JsonOption = False,
) -> None:
    """Up-vote rates of models and corpora. The bandit's view: mean, 90% interval, chance of being best."""
    from rich.table import Table

    from core.standings import standings
    from store.arms import ArmCounts

    with _vote_store() as store:
        arms = ArmCounts(store.redis)
        tables = [("model", arms.counts("model", corpus)), ("corpus", arms.counts("corpus"))]
    if as_json:
        print_json({kind: [vars(s) for s in standings(counts)] for kind, counts in tables})
        return
    for kind, counts in tables:
        table = Table(kind, "shown", "up-voted", "up-vote rate", "90% interval", "P(best)", title=f"{kind} standings")
        for s in standings(counts):
            table.add_row(
                s.arm, str(s.shown), str(s.up), f"{s.mean:.1%}", f"{s.low:.1%} - {s.high:.1%}", f"{s.p_best:.0%}"
            )
        consoles.out.print(table)


@app.command()
def drift(as_json: JsonOption = False) -> None:
    """Whether the reranker needs retraining. Do recent requests still look like its training data?"""
    from core.errors import TNaaSError
    from models.drift import check_drift

    info = _registry().estimator_info("reranker")
    if info is None:
        fail(TNaaSError("No reranker yet, so nothing has been trained on votes: nothing to drift from."))
    with _vote_store() as store:
        rows = list(store.export())
    cut = info.metrics["trained_until"]
    report = check_drift([r for r in rows if r["shown_at"] <= cut], [r for r in rows if r["shown_at"] > cut])
    if as_json:
        print_json(report.model_dump(mode="json"))
        raise typer.Exit(1 if report.drifted else 0)
    if report.accuracy is not None:
        consoles.out.print(
            f"old-vs-new classifier: accuracy {report.accuracy:.3f} (drift above {report.threshold:.3f}), "
            f"ROC AUC {report.auc:.3f}, on {report.compared} impressions per side "
            f"({report.old} seen by the reranker, {report.new} since)"
        )
    consoles.out.print(report.advice)
    if report.drifted:
        raise typer.Exit(1)


@app.command()
def corpora(as_json: JsonOption = False) -> None:
    """Corpora to generate from, and judge-only ones. With sources and licenses."""
    from rich.table import Table

    from corpora import manifest

    rows = [
        {"corpus": name, "role": meta.get("role", "generate"), "names": meta["count"]}
        | {k: meta[k] for k in ("source", "license")}
        for name, meta in manifest().items()
    ]
    if as_json:
        print_json(rows)
        return
    for role, title in (("generate", "Generation corpora"), ("judge", "Judge-only corpora (`is`, not `generate`)")):
        table = Table("corpus", "names", "source", "license", title=title, title_justify="left")
        for row in (r for r in rows if r["role"] == role):
            table.add_row(row["corpus"], f"{row['names']:,}", row["source"], row["license"])
        consoles.out.print(table)


@app.command()
def models(as_json: JsonOption = False) -> None:
    """The models that can be trained and picked."""
    from rich.table import Table

    from core import model_names

    defaults = model_names.default_models()
    rows = [
        {"model": name, "description": model_names.describe(name), "default": name in defaults}
        for name in model_names.all_model_names()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("model", "what it is", "trained by default")
    for row in rows:
        table.add_row(row["model"], row["description"], "yes" if row["default"] else "")
    consoles.out.print(table)


def _nll(value: float | None) -> str:
    return "inf (unsmoothed)" if value is None else f"{value:.3f}"


def _print_reply(reply: NamesReply, as_json: bool = False) -> None:
    if as_json:
        print_json(reply.model_dump(mode="json"))
        return
    _print_names([(c.name, c.known) for c in reply.candidates])
    for note in [reply.note] if getattr(reply, "note", None) else []:
        consoles.err.print(f"[dim]{note}[/dim]")
    _say_how(reply)


def _say_how(reply: NamesReply) -> None:
    """Which model made the names and what ranked them: with -v."""
    ranked = f", ranked by {reply.ranked_by}" if reply.pattern is None and reply.ranked_by else ""
    log.info("model %s (version %s, %s)%s", reply.model, reply.model_version, reply.model_chosen_by, ranked)


def _print_names(names: list[tuple[str, bool]]) -> None:
    """``(name, already in the corpus)``, numbered from 1."""
    for i, (name, known) in enumerate(names, 1):
        mark = "  [dim](already in the corpus)[/dim]" if known else ""
        consoles.out.print(f"{i:>2}. {name}{mark}")
