"""A worker's team corpora: loaded from Redis on first use, kept under a memory budget, least recently
used let go first.

Any worker may be asked for any team's corpus, and there may be thousands of them, so a worker holds
only those it was asked for lately (``TNAAS_TEAM_CORPUS_MEMORY_MB``). Each request looks the corpus'
version up (one HGET): a new version, published by a training job on any machine, is loaded on the
next request; a deleted corpus answers as unknown at once. The artifacts are written to this
process' own folder and mapped from there as every artifact is (``models.artifact``).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from core.errors import TNaaSError, UnknownCorpus
from core.settings import Settings
from models import team_artifacts
from models.artifact import ArtifactInfo
from models.believability import Reservoir
from models.name_model import NameModel
from store.team_corpora import TeamCorpora

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeamCorpus:
    version: str
    model: NameModel
    info: ArtifactInfo
    reservoir: Reservoir
    size: int  # bytes of its artifacts: what it costs the budget


class TeamModels:
    def __init__(self, store: TeamCorpora, settings: Settings, folder: Path | None = None):
        self.store = store
        self.budget = settings.team_corpus_memory_mb * 1024 * 1024
        self.folder = folder or settings.data_dir / "team-corpora" / str(os.getpid())
        self._loaded: OrderedDict[tuple[str, str], TeamCorpus] = OrderedDict()
        shutil.rmtree(self.folder, ignore_errors=True)  # a previous process of this pid's leftovers
        _forget_the_dead(self.folder.parent)

    @property
    def held(self) -> int:
        """Bytes of team corpora loaded here."""
        return sum(c.size for c in self._loaded.values())

    def loaded(self) -> list[tuple[str, str]]:
        """(owner, corpus) of what is loaded, least recently used first."""
        return list(self._loaded)

    def get(self, owner: str, corpus: str) -> TeamCorpus:
        """The current version of ``owner``'s ``corpus``; UnknownCorpus when it is not (or no longer) there,
        a user error when its first version is still training."""
        key = (owner, corpus)
        version = self.store.version(owner, corpus)
        if version is None:
            self._drop(key)
            if self.store.training_job(owner, corpus) is not None:
                raise TNaaSError(f"The corpus {corpus} is still training: ask again in a few seconds.")
            raise UnknownCorpus(corpus, [])
        held = self._loaded.get(key)
        if held is not None and held.version == version:
            self._loaded.move_to_end(key)
            return held
        return self._load(key)

    def _load(self, key: tuple[str, str]) -> TeamCorpus:
        start = time.perf_counter()
        found = self.store.artifacts(*key)
        if found is None:  # deleted between the two looks
            raise UnknownCorpus(key[1], [])
        version, model_bytes, reservoir_bytes = found
        model, info, reservoir = team_artifacts.write_and_load(
            self.folder / key[0] / key[1] / version, model_bytes, reservoir_bytes
        )
        self._drop(key)
        self._loaded[key] = TeamCorpus(version, model, info, reservoir, len(model_bytes) + len(reservoir_bytes))
        self._evict()
        log.info(
            "loaded team corpus %s (%s, %.1f MB) in %.0f ms",
            key[1],
            version,
            self._loaded[key].size / 1_048_576,
            1000 * (time.perf_counter() - start),
        )
        return self._loaded[key]

    def _evict(self) -> None:
        """Let the least recently used go while over budget (the one just loaded always stays)."""
        while len(self._loaded) > 1 and self.held > self.budget:
            self._drop(next(iter(self._loaded)))

    def _drop(self, key: tuple[str, str]) -> None:
        if (held := self._loaded.pop(key, None)) is not None:
            # mapped files stay readable until unmapped; the folder goes now
            shutil.rmtree(self.folder / key[0] / key[1] / held.version, ignore_errors=True)


def _forget_the_dead(folder: Path) -> None:
    """Remove the folders of workers that are gone (``<pid>`` no longer running): each may hold a budget's worth."""
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.name.isdigit() and not _alive(int(child.name)):
            shutil.rmtree(child, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
