"""Is a name free? The registry's rules, then the snapshot, then the registry itself (through the cache).

Order of evidence for one name on one registry:
1. rules: a name the registry refuses for any new project is "not allowed", whatever exists;
2. snapshot: a name equal to an existing one under the registry's "too similar" rule is "not allowed";
3. live (cached): 200 = taken, 404 = free -- but a 404 counts only when the registry also finds its
   canary (a name it must have, e.g. ``pip`` on PyPI), so a misconfigured URL that 404s everything is
   never read as "free"; without a snapshot to apply the "too similar" rule to, a trusted 404 reads
   "not registered" (a verdict of its own, the unchecked rule in its reason): marks mean something
   before an operator downloads every name;
4. no usable live answer: "taken" if the snapshot lists the name, else "unknown". Never "free".

Registry calls are bounded (``RegistryGate``, ``Allowance``): per request (its calls and one deadline for
all its rounds), per caller and per registry for the whole stack, and not at all while a registry's
circuit breaker is open -- marks are then "unknown" at once, and a probe asks again in the background.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from availability.config import NotConfigured, endpoints
from availability.live import LiveAnswer, LiveChecker
from availability.marks import Mark, Verdict
from availability.rules import REGISTRIES, SIMILAR_RULE, exact_key, problems, similar_key
from availability.snapshot import Snapshot, SnapshotStore
from core.settings import get_settings
from store.availability import Admission, AvailabilityCache, RegistryGate, SnapshotStates

log = logging.getLogger(__name__)


@dataclass
class Allowance:
    """What one request may still spend on registries: ``calls``, and time up to one deadline shared by
    all its checks (set at its first live round, so generating the names does not eat into it)."""

    caller: str | None
    calls: int
    timeout: float
    deadline: float | None = None  # time.monotonic()

    def remaining(self) -> float:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.timeout
        return max(0.0, self.deadline - time.monotonic())


@dataclass
class _Ask:
    """One request's names pending on one registry, and what became of them."""

    allowance: Allowance
    registry: str
    names: list[str]
    answers: dict[str, tuple[LiveAnswer, str]] = field(default_factory=dict)  # name -> (answer, source)


class RequestChecks:
    """The checker as one request sees it: every check it makes spends the request's ``allowance``."""

    def __init__(self, checker: AvailabilityChecker, allowance: Allowance):
        self.checker, self.allowance = checker, allowance

    def check(self, names: list[str], registries: tuple[str, ...]) -> list[dict[str, Mark]]:
        return self.checker.check(names, registries, self.allowance)

    def possibly_free(self, names: list[str], registry: str) -> np.ndarray:
        return self.checker.possibly_free(names, registry)


class AvailabilityChecker:
    def __init__(
        self,
        snapshots: dict[str, Snapshot | None],
        live: LiveChecker | None = None,
        cache: AvailabilityCache | None = None,
        canaries: dict[str, str] | None = None,
        unconfigured: dict[str, str] | None = None,
        gate: RegistryGate | None = None,
        request_calls: int | None = None,
        states: SnapshotStates | None = None,
    ):
        self.snapshots = snapshots
        self.live = live
        self.cache = cache
        self.canaries = canaries or {}
        self.unconfigured = unconfigured or {}  # registry -> why it cannot be asked live
        self.gate = gate  # None: no budgets across requests and no breaker (one-off checks: `tnaas check`)
        self.request_calls = request_calls or get_settings().availability_request_calls
        self.states = states  # where loaded snapshots are reported (/healthz, /metrics)
        self.store: SnapshotStore | None = None
        self._pointers: dict[str, float | None] = {}

    @classmethod
    def from_store(cls, store: SnapshotStore, registries: tuple[str, ...], **kwargs) -> AvailabilityChecker:
        checker = cls({r: store.load(r) for r in registries}, **kwargs)
        checker.store = store
        checker._pointers = {r: checker._pointer_time(r) for r in registries}
        checker._report(registries)
        return checker

    def _pointer_time(self, registry: str) -> float | None:
        try:
            return self.store.pointer(registry).stat().st_mtime
        except OSError:
            return None

    def _report(self, registries) -> None:
        """The snapshots this process loaded, for /healthz and /metrics (a process without one, say
        `tnaas check` on a laptop, does not erase what the workers reported)."""
        if self.states is not None:
            for registry in registries:
                if (snap := self.snapshots.get(registry)) is not None:
                    self.states.report(registry, snap.describe())

    def reload_if_refreshed(self) -> bool:
        """Between jobs: one stat per registry; a snapshot `tnaas availability refresh` (or the scheduled
        refresh) replaced is loaded."""
        if self.store is None:
            return False
        changed = [r for r, seen in self._pointers.items() if self._pointer_time(r) != seen]
        for registry in changed:
            self._pointers[registry] = self._pointer_time(registry)
            self.snapshots[registry] = self.store.load(registry)
            log.info("availability snapshot for %s reloaded", registry)
        self._report(changed)
        return bool(changed)

    def allowance(self, caller: str | None = None) -> Allowance:
        """A new request's allowance: TNAAS_AVAILABILITY_REQUEST_CALLS calls, one TNAAS_AVAILABILITY_TIMEOUT."""
        timeout = self.live.timeout if self.live is not None else 0.0
        return Allowance(caller, self.request_calls, timeout)

    def for_request(self, caller: str | None = None) -> RequestChecks:
        return RequestChecks(self, self.allowance(caller))

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
    def check(
        self, names: list[str], registries: tuple[str, ...], allowance: Allowance | None = None
    ) -> list[dict[str, Mark]]:
        """For each name, a Mark per registry; registry calls spend ``allowance`` (default: a fresh one)."""
        return self.check_many([(names, allowance or self.allowance())], registries)[0]

    def check_many(
        self, asks: list[tuple[list[str], Allowance]], registries: tuple[str, ...]
    ) -> list[list[dict[str, Mark]]]:
        """``check`` for several requests (a batch from the web process) in one live round, one canary
        per registry, each request spending its own allowance."""
        marks: list[dict[tuple[str, str], Mark]] = [{} for _ in asks]
        pending: list[tuple[int, _Ask]] = []
        for i, (names, allowance) in enumerate(asks):
            for registry in registries:
                local = self.local_marks(names, registry)
                marks[i] |= {(registry, n): m for n, m in zip(names, local) if m is not None}
                open_ = list(dict.fromkeys(n for n, m in zip(names, local) if m is None))
                if open_:
                    pending.append((i, _Ask(allowance, registry, open_)))
        self._answer([ask for _, ask in pending])
        for i, ask in pending:
            snap = self.snapshots.get(ask.registry)
            listed = dict(zip(ask.names, snap.taken(ask.names))) if snap is not None else {}
            for name in ask.names:
                marks[i][ask.registry, name] = self._decide(
                    ask.registry, name, ask.answers[name], listed.get(name), snap
                )
        return [[{r: marks[i][r, n] for r in registries} for n in names] for i, (names, _) in enumerate(asks)]

    def _decide(
        self, registry: str, name: str, answer: tuple[LiveAnswer, str], listed: bool | None, snap: Snapshot | None
    ) -> Mark:
        live, source = answer
        if live.verdict is Verdict.FREE and snap is None and similar_key(registry, name) is not None:
            return Mark(
                registry,
                name,
                Verdict.NOT_REGISTERED,
                f"not registered; its {SIMILAR_RULE[registry]} rule was not checked: that needs a snapshot of "
                f"every {registry} name (`tnaas availability refresh {registry}`)",
                source,
            )
        if live.verdict in (Verdict.TAKEN, Verdict.FREE):
            return Mark(registry, name, live.verdict, live.reason, source)
        when = time.strftime("%Y-%m-%d", time.localtime(snap.built_at)) if snap is not None else ""
        if listed:
            return Mark(registry, name, Verdict.TAKEN, f"listed in the snapshot of {when} ({live.reason})", "snapshot")
        hint = f"; the snapshot of {when} does not list it" if snap is not None else ""
        return Mark(registry, name, Verdict.UNKNOWN, live.reason + hint, source)

    def _answer(self, asks: list[_Ask]) -> None:
        """Fill each ask's answers: from the cache, else the registry within its allowance and the gate's
        budgets, else "unknown" saying why it was not asked. One live round for all asks."""
        if not asks:
            return
        for ask in asks:
            if self.live is None or ask.registry in self.unconfigured:
                why = self.unconfigured.get(ask.registry, "not checked live")
                ask.answers = {n: (LiveAnswer(Verdict.UNKNOWN, why), "none") for n in ask.names}
        live_asks = [a for a in asks if not a.answers]
        keys = {(a.registry, n): exact_key(a.registry, n) for a in live_asks for n in a.names}
        cached = self._cached(live_asks, keys)
        to_ask: list[tuple[_Ask, list[str]]] = []
        for ask in live_asks:
            hits = cached.get(ask.registry, {})
            for n in ask.names:
                if keys[ask.registry, n] in hits:
                    verdict, reason = hits[keys[ask.registry, n]]
                    ask.answers[n] = (LiveAnswer(Verdict(verdict), reason), "cache")
            missing = [n for n in ask.names if n not in ask.answers]
            if missing:
                to_ask.append((ask, missing))
        admitted = self._admit(to_ask)
        queries = [(a.registry, n) for a, names in admitted for n in names]
        if not queries:
            return
        timeout = min(a.allowance.remaining() for a, _ in admitted)
        asked_registries = list(dict.fromkeys(r for r, _ in queries))
        canaries = [(r, self.canaries[r]) for r in asked_registries if self.canaries.get(r)]
        # the canary is asked with every live round, never taken from the cache: a registry that broke
        # since it was cached must not have its 404s read as "free"
        fresh = self.live.check(queries + canaries, timeout)
        trust = {r: self._canary_says(r, self.canaries.get(r), fresh) for r in asked_registries}
        fresh_answers: dict[str, dict[str, tuple[str, str]]] = {r: {} for r in asked_registries}
        for registry in asked_registries:
            asked = [a for (r, _), a in fresh.items() if r == registry]
            answered = sum(a.verdict in (Verdict.TAKEN, Verdict.FREE) for a in asked) if trust[registry][0] else 0
            if self.gate is not None:
                self.gate.record(registry, answered, len(asked) - answered)
        for ask, names in admitted:
            trusted, doubt = trust[ask.registry]
            for n in names:
                answer = fresh[ask.registry, n]
                if not trusted and answer.verdict is Verdict.FREE:
                    answer = LiveAnswer(Verdict.UNKNOWN, doubt)
                ask.answers[n] = (answer, "live")
                fresh_answers[ask.registry][keys[ask.registry, n]] = (answer.verdict.value, answer.reason)
        for ask in live_asks:  # a cached 404 is no better than a fresh one from a registry found broken
            trusted, doubt = trust.get(ask.registry, (True, ""))
            if not trusted:
                ask.answers = {
                    n: (LiveAnswer(Verdict.UNKNOWN, doubt), src) if a.verdict is Verdict.FREE else (a, src)
                    for n, (a, src) in ask.answers.items()
                }
        if self.cache is not None:
            for registry, found in fresh_answers.items():
                self.cache.put_many(registry, found)

    def _admit(self, to_ask: list[tuple[_Ask, list[str]]]) -> list[tuple[_Ask, list[str]]]:
        """The names each ask may have looked up now: within its request's calls and time, and the gate's
        budgets and breakers. Those left out get "unknown" with the reason; a breaker whose cool-down is
        over is probed in the background."""
        planned, left = [], {}
        for ask, names in to_ask:
            canary = 1 if self.canaries.get(ask.registry) else 0
            calls = left.setdefault(id(ask.allowance), ask.allowance.calls)  # both registries share them
            room = min(len(names) + canary, calls)
            if ask.allowance.remaining() <= 0:
                room, why = 0, f"no time left within this request's {ask.allowance.timeout:g} s"
            else:
                why = f"this request used its {self.request_calls} registry look-ups (per request)"
            room = room if room > canary else 0
            left[id(ask.allowance)] -= room
            planned.append((ask, names, room, 1 + canary, why))
        wanted = [(a.registry, a.allowance.caller, room, fewest) for a, _, room, fewest, _ in planned if room]
        admissions = iter(self.gate.admit(wanted) if self.gate is not None else [Admission(w[2]) for w in wanted])
        out = []
        for ask, names, room, _, why in planned:
            admission = next(admissions) if room else Admission(0)
            canary = 1 if self.canaries.get(ask.registry) else 0
            take = max(0, admission.granted - canary) if admission.granted > canary else 0
            if room and admission.granted < room:
                why = self._refusal(ask, admission)
            for n in names[take:]:
                ask.answers[n] = (LiveAnswer(Verdict.UNKNOWN, why), "none")
            if take:
                ask.allowance.calls -= take + canary
                out.append((ask, names[:take]))
        return out

    def _refusal(self, ask: _Ask, admission: Admission) -> str:
        """Why some names were not asked, in words for the user."""
        wait = max(1, math.ceil(admission.wait))
        if admission.why == "probe":
            self._probe(ask.registry, ask.names[0])
            return f"the {ask.registry} registry is not answering; checking in the background whether it is back"
        if admission.why == "breaker":
            return f"the {ask.registry} registry is not answering: asked again in {wait} s"
        if admission.why == "caller":
            return f"too many registry look-ups from you just now: try again in {wait} s"
        return f"too many {ask.registry} look-ups from everyone just now: try again in {wait} s"

    def _probe(self, registry: str, name: str) -> None:
        """Half-open: one call (the canary) in the background; its answer closes or re-opens the breaker."""
        canary = self.canaries.get(registry)

        def done(answer: LiveAnswer) -> None:
            alive = answer.verdict is Verdict.TAKEN if canary else answer.verdict in (Verdict.TAKEN, Verdict.FREE)
            self.gate.record(registry, int(alive), int(not alive))

        log.info("%s registry: probing whether it answers again", registry)
        self.live.probe(registry, canary or name, done)

    def _cached(self, asks: list[_Ask], keys: dict) -> dict[str, dict[str, tuple[str, str]]]:
        """The cache's answers for the names of every ask checked live, in one read."""
        if self.cache is None or not asks:
            return {}
        wanted: dict[str, set[str]] = {}
        for ask in asks:
            wanted.setdefault(ask.registry, set()).update(keys[ask.registry, n] for n in ask.names)
        return self.cache.get_across({r: sorted(k) for r, k in wanted.items()})

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
    """A checker as the settings describe it: snapshots from disk, the user's registries; with a Redis
    ``connection``, the cache, the budgets and breakers every worker shares, and the snapshot states."""
    found = endpoints(settings, registries)
    reachable = {r: e for r, e in found.items() if not isinstance(e, NotConfigured)}
    unconfigured = {r: str(e) for r, e in found.items() if isinstance(e, NotConfigured)}
    checker = LiveChecker(reachable, settings.availability_timeout) if live else None
    shared = connection is not None
    return AvailabilityChecker.from_store(
        SnapshotStore(settings.snapshot_dir),
        registries,
        live=checker,
        cache=AvailabilityCache(connection, settings.availability_ttl) if shared else None,
        canaries=settings.availability_canaries,
        unconfigured=unconfigured,
        gate=RegistryGate.from_settings(connection, settings) if shared else None,
        request_calls=settings.availability_request_calls,
        states=SnapshotStates(connection) if shared else None,
    )
