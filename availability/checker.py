"""Is a name free? The registry's rules, then the snapshot, then the registry itself (through the cache).

Order of evidence for one name on one registry:
1. rules: a name the registry refuses for any new project is "not allowed", whatever exists;
2. snapshot: a name equal to an existing one under the registry's "too similar" rule is "not allowed";
3. live (cached): 200 = taken, 404 = free -- but a 404 counts only when the registry also finds its
   canary (a name it must have, e.g. ``pip`` on PyPI), so a misconfigured URL that 404s everything is
   never read as "free";
4. no usable live answer: "taken" if the snapshot lists the name, else "unknown". Never "free";
   nor is a 404 "free" without a snapshot to apply the "too similar" rule to.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from availability.config import NotConfigured, endpoints
from availability.live import LiveAnswer, LiveChecker
from availability.marks import Mark, Verdict
from availability.rules import REGISTRIES, SIMILAR_RULE, exact_key, problems, similar_key
from availability.snapshot import Snapshot, SnapshotStore
from store.availability import AvailabilityCache

log = logging.getLogger(__name__)


class AvailabilityChecker:
    def __init__(
        self,
        snapshots: dict[str, Snapshot | None],
        live: LiveChecker | None = None,
        cache: AvailabilityCache | None = None,
        canaries: dict[str, str] | None = None,
        unconfigured: dict[str, str] | None = None,
    ):
        self.snapshots = snapshots
        self.live = live
        self.cache = cache
        self.canaries = canaries or {}
        self.unconfigured = unconfigured or {}  # registry -> why it cannot be asked live
        self.store: SnapshotStore | None = None
        self._pointers: dict[str, float | None] = {}

    @classmethod
    def from_store(cls, store: SnapshotStore, registries: tuple[str, ...], **kwargs) -> AvailabilityChecker:
        checker = cls({r: store.load(r) for r in registries}, **kwargs)
        checker.store = store
        checker._pointers = {r: checker._pointer_time(r) for r in registries}
        return checker

    def _pointer_time(self, registry: str) -> float | None:
        try:
            return self.store.pointer(registry).stat().st_mtime
        except OSError:
            return None

    def reload_if_refreshed(self) -> bool:
        """Between jobs: one stat per registry; a snapshot `tnaas availability refresh` replaced is loaded."""
        if self.store is None:
            return False
        changed = [r for r, seen in self._pointers.items() if self._pointer_time(r) != seen]
        for registry in changed:
            self._pointers[registry] = self._pointer_time(registry)
            self.snapshots[registry] = self.store.load(registry)
            log.info("availability snapshot for %s reloaded", registry)
        return bool(changed)

    # -- fast, local ------------------------------------------------------------------------------
    def possibly_free(self, names: list[str], registry: str) -> np.ndarray:
        """Allowed by the rules and not in the snapshot (exactly or "too similar"): the filter that keeps
        a pool of candidates worth checking live. Without a snapshot only the rules filter."""
        ok = np.array([not problems(registry, n) for n in names], dtype=bool)
        snap = self.snapshots.get(registry)
        if snap is not None and ok.any():
            idx = np.flatnonzero(ok)
            ok[idx] = snap.possibly_free([names[i] for i in idx])
        return ok

    def local_marks(self, names: list[str], registry: str) -> list[Mark | None]:
        """Marks decided without asking the registry (rules, "too similar"); None where it must be asked."""
        out: list[Mark | None] = []
        for name in names:
            found = problems(registry, name)
            out.append(Mark(registry, name, Verdict.REFUSED, found[0], "rules") if found else None)
        snap = self.snapshots.get(registry)
        open_ = [i for i, m in enumerate(out) if m is None]
        if snap is not None and open_:
            asked = [names[i] for i in open_]
            similar = snap.similar_taken(asked) & ~snap.taken(asked)
            for i, hit in zip(open_, similar):
                if hit:
                    out[i] = Mark(registry, names[i], Verdict.REFUSED, SIMILAR_RULE[registry], "snapshot")
        return out

    # -- the full answer ---------------------------------------------------------------------------
    def check(self, names: list[str], registries: tuple[str, ...]) -> list[dict[str, Mark]]:
        """For each name, a Mark per registry."""
        marks: dict[tuple[str, str], Mark] = {}
        pending: dict[str, list[str]] = {}
        for registry in registries:
            for name, mark in zip(names, self.local_marks(names, registry)):
                if mark is not None:
                    marks[registry, name] = mark
                else:
                    pending.setdefault(registry, []).append(name)
        cached = self._cached({registry: list(dict.fromkeys(asked)) for registry, asked in pending.items()})
        for registry, asked in pending.items():
            answers = self._answers(registry, list(dict.fromkeys(asked)), cached.get(registry, {}))
            snap = self.snapshots.get(registry)
            listed = dict(zip(asked, snap.taken(asked))) if snap is not None else {}
            for name in asked:
                marks[registry, name] = self._decide(registry, name, answers[name], listed.get(name), snap)
        return [{r: marks[r, n] for r in registries} for n in names]

    def _decide(
        self, registry: str, name: str, answer: tuple[LiveAnswer, str], listed: bool | None, snap: Snapshot | None
    ) -> Mark:
        live, source = answer
        if live.verdict is Verdict.FREE and snap is None and similar_key(registry, name) is not None:
            return Mark(
                registry,
                name,
                Verdict.UNKNOWN,
                f"not registered, but without a snapshot of every {registry} name "
                f"its 'too similar' rule cannot be checked: run `tnaas availability refresh {registry}`",
                source,
            )
        if live.verdict in (Verdict.TAKEN, Verdict.FREE):
            return Mark(registry, name, live.verdict, live.reason, source)
        when = time.strftime("%Y-%m-%d", time.localtime(snap.built_at)) if snap is not None else ""
        if listed:
            return Mark(registry, name, Verdict.TAKEN, f"listed in the snapshot of {when} ({live.reason})", "snapshot")
        hint = f"; the snapshot of {when} does not list it" if snap is not None else ""
        return Mark(registry, name, Verdict.UNKNOWN, live.reason + hint, source)

    def _cached(self, asked: dict[str, list[str]]) -> dict[str, dict[str, tuple[str, str]]]:
        """The cache's answers for the names of every registry checked live, in one read."""
        live = {r: names for r, names in asked.items() if self.live is not None and r not in self.unconfigured}
        if self.cache is None or not live:
            return {}
        return self.cache.get_across({r: list({exact_key(r, n) for n in names}) for r, names in live.items()})

    def _answers(
        self, registry: str, names: list[str], cached: dict[str, tuple[str, str]]
    ) -> dict[str, tuple[LiveAnswer, str]]:
        """name -> (answer, source) from the cache (``cached``: name key -> answer), else the registry;
        untrusted 404s become unknown."""
        if self.live is None or registry in self.unconfigured:
            why = self.unconfigured.get(registry, "not checked live")
            return {n: (LiveAnswer(Verdict.UNKNOWN, why), "none") for n in names}
        keys = {n: exact_key(registry, n) for n in names}
        out = {n: (LiveAnswer(Verdict(cached[k][0]), cached[k][1]), "cache") for n, k in keys.items() if k in cached}
        ask = [n for n in names if n not in out]
        if not ask:
            return out
        # the canary is asked with every live batch, never taken from the cache: a registry that broke
        # since it was cached must not have its 404s read as "free"
        canary = self.canaries.get(registry)
        fresh = self.live.check([(registry, n) for n in ask + ([canary] if canary else [])])
        out |= {n: (fresh[registry, n], "live") for n in ask}
        trusted, doubt = self._canary_says(registry, canary, fresh)
        if not trusted:
            out = {
                n: ((LiveAnswer(Verdict.UNKNOWN, doubt), src) if a.verdict is Verdict.FREE else (a, src))
                for n, (a, src) in out.items()
            }
        if self.cache is not None:
            fresh_answers = {keys[n]: (a.verdict.value, a.reason) for n, (a, src) in out.items() if src == "live"}
            self.cache.put_many(registry, fresh_answers)
        return {n: out[n] for n in names}

    @staticmethod
    def _canary_says(registry: str, canary: str | None, answers: dict) -> tuple[bool, str]:
        if not canary:
            return True, ""
        answer = answers[registry, canary]
        if answer.verdict is Verdict.TAKEN:
            return True, ""
        if answer.verdict is Verdict.FREE:
            return (
                False,
                f"the {registry} registry also says it has no '{canary}', so its 'not found' cannot be trusted",
            )
        return False, f"the {registry} registry could not be confirmed working ({answer.reason})"


def summary(marks: dict[str, Mark]) -> str:
    """'free on pypi, taken on npm' for a one-line note beside a candidate."""
    return ", ".join(m.short() for m in marks.values())


def build_checker(
    settings, registries: tuple[str, ...] = REGISTRIES, connection=None, live: bool = True
) -> AvailabilityChecker:
    """A checker as the settings describe it: snapshots from disk, the user's registries, the Redis cache."""
    found = endpoints(settings, registries)
    reachable = {r: e for r, e in found.items() if not isinstance(e, NotConfigured)}
    unconfigured = {r: str(e) for r, e in found.items() if isinstance(e, NotConfigured)}
    checker = LiveChecker(reachable, settings.availability_timeout) if live else None
    cache = AvailabilityCache(connection, settings.availability_ttl) if connection is not None else None
    return AvailabilityChecker.from_store(
        SnapshotStore(settings.snapshot_dir),
        registries,
        live=checker,
        cache=cache,
        canaries=settings.availability_canaries,
        unconfigured=unconfigured,
    )
