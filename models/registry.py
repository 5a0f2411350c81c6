"""Where trained models live, and a per-process cache so each is loaded once, never per request.

Loading maps an artifact (models.artifact): it reads nothing but the file's directory, so a worker has
every model in milliseconds and the machine's workers share one copy of each in the page cache."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from core.artifacts import fingerprint
from core.errors import OperatorError
from corpora import corpus_names, corpus_path
from models import artifact
from models.artifact import ArtifactInfo
from models.believability import FIRST_POOL, Reservoir, believability_info
from models.catalog import all_model_names, default_models, parse_model_name
from models.name_model import NameModel
from models.ranking import PoolFeatures, load_columns, reservoir_scores

log = logging.getLogger(__name__)
ESTIMATORS = ("judge", "language")  # always trained with the name models; the reranker needs votes first
LEARNT = ("reranker",)  # learnt from a stack's own votes: kept in its data folder


class ModelRegistry:
    """``artifacts/<corpus>/<model>.npz`` and ``artifacts/<name>.joblib`` (the layout: models.artifact);
    ``get`` loads on first use and keeps the model mapped."""

    # The registry mapped before this process was forked (tnaas.preforked, in the workers' fork server):
    # a worker's first registry takes over from it what is unchanged on disk, as from a previous version.
    forked_with: ModelRegistry | None = None

    def __init__(self, root: Path, learnt: Path | None = None):
        self.root = Path(root)
        # what a stack learns (the reranker, from its votes) lives in its own data folder (``learnt``); the
        # trained corpus models in ``root``, which stacks started from one checkout share, read-only
        self.learnt = Path(learnt) if learnt is not None else self.root
        # when each model still training is expected to be ready ({"pypi/kn3": epoch seconds}), as the
        # stack's trainer said when this registry was loaded (store.training): what "not yet" answers say
        self.training: dict[str, float] = {}
        self._loaded: dict[tuple, object] = {}  # name models, estimators and reservoirs by key
        self._stamps: dict[tuple, tuple[int, int] | None] = {}  # a loaded file's (size, mtime) before loading
        self._scoring = threading.Lock()  # one reservoir scored at a time (see pool_features)

    # -- a new version: take over what did not change ---------------------------------------------------
    def reusing(self, previous: ModelRegistry | None) -> ModelRegistry:
        """Take over from ``previous`` (the registry a worker held before a new version was published)
        what it loaded from files unchanged since, and what it computed from those only: a retrained
        reranker (once a minute while a team's first votes come in) then costs a worker the reranker and
        its scores, not every model, reservoir and ranking column again. With no ``previous``, from the
        registry this process was forked with, if any. Returns self."""
        previous = previous if previous is not None else ModelRegistry.forked_with
        if previous is None or previous.root != self.root:
            return self
        loaded, stamps = dict(previous._loaded), dict(previous._stamps)  # its warm-up thread may still add
        for key, value in loaded.items():
            if self._unchanged(key, loaded, stamps):
                self._loaded[key] = value
                if key in stamps:
                    self._stamps[key] = stamps[key]
        return self

    def _unchanged(self, key: tuple, loaded: dict, stamps: dict) -> bool:
        if (file := self._file_of(key)) is not None:
            return key in stamps and stamps[key] == artifact.stamp(file)
        depends = self._depends_on(key)
        return depends is not None and all(k in loaded and self._unchanged(k, loaded, stamps) for k in depends)

    def _file_of(self, key: tuple) -> Path | None:
        """The file a loaded entry came from (None: computed, or looked up, not loaded)."""
        match key:
            case ("_estimator", name):
                return self.estimator_path(name)
            case ("_reservoir", corpus, model):
                return self.reservoir_path(corpus, model)
            case ("_ranking", corpus, model):
                return self.ranking_path(corpus, model)
            case (str(corpus), str(model)) if not corpus.startswith("_"):
                return self.path(corpus, model)
        return None

    @staticmethod
    def _depends_on(key: tuple) -> list[tuple] | None:
        """What a computed entry was computed from (None: not taken over, e.g. which files exist)."""
        match key:
            case ("_features", corpus, model, scored_by):
                return [
                    ("_estimator", "judge"),
                    ("_reservoir", corpus, model),
                    ("_ranking", corpus, model),
                    *((corpus, m) for m in scored_by),
                ]
            case ("_reranked", corpus, model, scored_by):
                return [("_estimator", "reranker"), ("_features", corpus, model, scored_by)]
        return None

    def _load_file(self, key: tuple, path: Path, load):
        """``load(path)``, remembered under ``key`` with the file's stamp taken first (a file rewritten
        while it loads then counts as changed, never as unchanged)."""
        stamp = artifact.stamp(path)
        self._loaded[key] = load(path)
        self._stamps[key] = stamp
        return self._loaded[key]

    def path(self, corpus: str, model: str) -> Path:
        corpus_path(corpus)  # raises UnknownCorpus
        parse_model_name(model)  # raises UnknownModel
        return self.root / corpus / f"{model}.npz"

    def trained(self) -> list[ArtifactInfo]:
        return [artifact.read_info(p) for p in sorted(self.root.glob("*/*.npz")) if p.parent.name in corpus_names()]

    def trained_models(self, corpus: str) -> list[str]:
        """The standard models trained for ``corpus``, in the catalog's order (UnknownCorpus if none such)."""
        return [m for m in default_models() if self.path(corpus, m).exists()]

    def is_trained(self, corpus: str, model: str) -> bool:
        """Looked at on disk until found, then remembered for the registry's life (asked per request;
        a retrain publishes a version and workers load a new registry)."""
        key = ("_is_trained", corpus, model.lower())
        if key not in self._loaded and self.path(corpus, model).exists():
            self._loaded[key] = True
        return key in self._loaded

    def trained_names(self, corpus: str) -> list[str]:
        """Every model trained for ``corpus``, in the catalog's order (what a user may ask for)."""
        trained = {p.stem for p in (self.root / corpus).glob("*.npz")}
        return [m for m in all_model_names() if m in trained]

    def get(self, corpus: str, model: str) -> tuple[NameModel, ArtifactInfo]:
        key = (corpus, model.lower())
        if key not in self._loaded:
            start = time.perf_counter()
            self._load_file(key, self.path(*key), artifact.load)
            log.debug("loaded %s/%s in %.0f ms", corpus, model, 1000 * (time.perf_counter() - start))
        return self._loaded[key]

    def model(self, corpus: str, model: str) -> NameModel:
        return self.get(corpus, model)[0]

    def believability_path(self, corpus: str, model: str) -> Path:
        """The adversarial judge of one (corpus, model): real names against that model's samples."""
        return self.path(corpus, model).parent / "believability" / f"{model.lower()}.joblib"

    def reservoir_path(self, corpus: str, model: str) -> Path:
        return self.path(corpus, model).parent / "reservoir" / f"{model.lower()}.npz"

    def reservoir(self, corpus: str, model: str) -> Reservoir:
        """The believable tier of (corpus, model), loaded once per process (see models.believability)."""
        key = ("_reservoir", corpus, model.lower())
        if key not in self._loaded:
            self._say_if_outdated(
                corpus, model, self._load_file(key, self.reservoir_path(corpus, model), Reservoir.load)
            )
        return self._loaded[key]

    def _say_if_outdated(self, corpus: str, model: str, reservoir: Reservoir) -> None:
        """A reservoir built under other settings than this release's (the code upgraded, or its name model
        retrained, without ``tnaas train`` since) still answers -- its names were checked when it was
        built -- and the operator is told, once per load."""
        info = self.get(corpus, model)[1]
        expected = believability_info(corpus, info).version
        first = believability_info(corpus, info, FIRST_POOL).version  # the full one is on its way
        if reservoir.info.version not in (expected, first):
            log.warning(
                "the %s/%s reservoir was built under other settings than this release's (version %s, now %s): "
                "`tnaas train` rebuilds it",
                corpus,
                model,
                reservoir.info.version,
                expected,
            )

    def ranking_path(self, corpus: str, model: str) -> Path:
        return self.path(corpus, model).parent / "ranking" / f"{model.lower()}.npz"

    def ranking_columns(self, corpus: str, model: str) -> tuple[PoolFeatures, ArtifactInfo] | None:
        """The reservoir's ranking columns as training stored them (mapped), or None when there are none."""
        key = ("_ranking", corpus, model.lower())
        if key not in self._loaded:
            self._load_file(key, self.ranking_path(corpus, model), _columns_or_none)
        return self._loaded[key]

    def pool_features(self, corpus: str, model: str, scored_by: tuple[str, ...]) -> PoolFeatures:
        """The reservoir's judge and nll columns (``scored_by``: the models whose nll rows carry): those
        ``tnaas train`` stored, when computed from the judge, reservoir and models loaded here; else
        computed once per process on first use (or by a worker's warm-up thread: a job that needs them
        meanwhile waits for that one computation) and dropped with the models on a reload."""
        key = ("_features", corpus, model.lower(), scored_by)
        if key not in self._loaded and (stored := self._stored_features(corpus, model, scored_by)) is not None:
            self._loaded[key] = stored
        return self._scored_once(
            key,
            lambda: PoolFeatures.computed(
                self.reservoir(corpus, model).names,
                self.estimator("judge"),
                {m: self.model(corpus, m) for m in scored_by},
            ),
            f"scored the {corpus}/{model} reservoir (`tnaas train` stores its columns)",
        )

    def _stored_features(self, corpus: str, model: str, scored_by: tuple[str, ...]) -> PoolFeatures | None:
        """The stored columns of ``scored_by``, if they were computed from what is loaded here."""
        stored = self.ranking_columns(corpus, model)
        if stored is None:
            return None
        features, info = stored
        current = (
            info.params.get("reservoir") == self.reservoir(corpus, model).info.version
            and info.params.get("judge") == self.estimator_info("judge").version
            and all(info.params.get("models", {}).get(m) == self.get(corpus, m)[1].version for m in scored_by)
            and len(features) == len(self.reservoir(corpus, model))
        )
        return features.select(scored_by) if current else None

    def reranked_scores(self, corpus: str, model: str, scored_by: tuple[str, ...]) -> np.ndarray | None:
        """P(up-vote) of every name of the reservoir under the deployed reranker (None while there is
        none), computed once per process on first use or by the warm-up thread (``ranking.reservoir_scores``);
        a retrained reranker is a new version, which workers load into a new registry."""
        reranker = self.optional_estimator("reranker")
        if reranker is None:
            return None
        features = self.pool_features(corpus, model, scored_by)  # before: it takes the lock itself
        return self._scored_once(
            ("_reranked", corpus, model.lower(), scored_by),
            lambda: reservoir_scores(self.reservoir(corpus, model), corpus, model, features, reranker),
            f"reranked the {corpus}/{model} reservoir",
        )

    def _scored_once(self, key: tuple, compute, what: str):
        """``compute()`` once per registry, one at a time: a job that needs it while the warm-up thread
        computes it waits for that one computation."""
        if key not in self._loaded:
            with self._scoring:
                if key not in self._loaded:
                    start = time.perf_counter()
                    self._loaded[key] = compute()
                    log.info("%s in %.1f s", what, time.perf_counter() - start)
        return self._loaded[key]

    def answering_models(self, corpus: str) -> list[str]:
        """``trained_models`` as the request pipeline sees them: looked up once per registry, since the
        files are listed per request otherwise (a retrain publishes a version; workers load a new registry)."""
        key = ("_trained", corpus)
        if key not in self._loaded:
            self._loaded[key] = self.trained_models(corpus)
        return list(self._loaded[key])

    def has_reservoir(self, corpus: str, model: str) -> bool:
        return ("_reservoir", corpus, model.lower()) in self._loaded or self.reservoir_path(corpus, model).exists()

    def estimator_path(self, name: str) -> Path:
        return (self.learnt if name in LEARNT else self.root) / f"{name}.joblib"

    def estimator(self, name: str):
        """A trained scikit-learn model (``judge``, ``language``), loaded once per process."""
        key = ("_estimator", name)
        if key not in self._loaded:
            self._load_file(key, self.estimator_path(name), artifact.load_estimator)
        return self._loaded[key][0]

    def optional_estimator(self, name: str):
        """Like ``estimator``, but None while it has not been trained (the reranker needs votes first)."""
        key = ("_has_estimator", name)  # looked at on disk once per registry, as ``answering_models``
        if key not in self._loaded:
            self._loaded[key] = self.estimator_path(name).exists()
        return self.estimator(name) if self._loaded[key] else None

    def estimator_info(self, name: str) -> ArtifactInfo | None:
        """A trained estimator's info (None while it is not trained), read from its header: comparing versions
        loads no estimator, so a command line that answers from stored columns imports no scikit-learn."""
        if ("_estimator", name) in self._loaded:
            return self._loaded[("_estimator", name)][1]
        key = ("_estimator_info", name)
        if key not in self._loaded:
            path = self.estimator_path(name)
            self._loaded[key] = artifact.read_estimator_info(path) if path.exists() else None
        return self._loaded[key]

    def estimator_infos(self) -> list[ArtifactInfo]:
        paths = {p for p in self.root.glob("*.joblib") if p.stem not in LEARNT or self.learnt == self.root}
        paths |= {p for name in LEARNT if (p := self.estimator_path(name)).exists()}
        return [artifact.read_estimator_info(p) for p in sorted(paths)]

    def fingerprint(self) -> str:
        """The deployed version: changes whenever any artifact is rewritten (name, size, modification time);
        the same sum as ``core.artifacts.fingerprint``."""
        return fingerprint(self.root, self.learnt)

    def ready_in(self, corpus: str, model: str) -> float | None:
        """Seconds until ``model`` of ``corpus`` should be trained, if the stack's trainer is on it."""
        ready_at = self.training.get(f"{corpus}/{model.lower()}")
        return None if ready_at is None else max(0.0, ready_at - time.time())

    def preload(self) -> str:
        """Map every trained name model, reservoir and its ranking columns, the judge, the language
        detector and the reranker (a worker does this once, before its first job: milliseconds, nothing
        is read until used); returns the version loaded."""
        start = time.perf_counter()
        version = self.fingerprint()
        loaded = 0
        for corpus in corpus_names():
            for model in self.trained_models(corpus):
                self.get(corpus, model)
                if self.has_reservoir(corpus, model):
                    self.reservoir(corpus, model)
                    self.ranking_columns(corpus, model)
                loaded += 1
        self.estimator("judge")
        language = self.optional_estimator("language")  # a stack's trainer may be on it still: detection says so
        reranker = self.optional_estimator("reranker")
        log.debug(
            "mapped %d name models, the judge, %s and %s in %.0f ms (version %s)",
            loaded,
            "the language detector" if language is not None else "no language detector (still training?)",
            "the reranker" if reranker is not None else "no reranker (not enough votes yet)",
            1000 * (time.perf_counter() - start),
            version,
        )
        return version


def _columns_or_none(path: Path) -> tuple[PoolFeatures, ArtifactInfo] | None:
    """Stored ranking columns; None when there are none (or unreadable ones: computed instead)."""
    if not path.exists():
        return None
    try:
        return load_columns(path)
    except (ValueError, OperatorError) as err:
        log.warning("ranking columns at %s not used (%s): computed per process instead", path, err)
        return None
