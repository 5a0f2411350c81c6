"""What we can say about a name on a registry, and why: the marks shown beside each candidate."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    FREE = "free"
    TAKEN = "taken"
    REFUSED = "not allowed"  # the registry would refuse it as a new name, whoever holds it
    # the registry has no such name (a 404, its canary found), but its "too similar" rule needs a snapshot
    # of every name to check: what marks say out of the box, before an operator makes one
    NOT_REGISTERED = "not registered"
    UNKNOWN = "unknown"  # the registry could not be asked or gave no usable answer: never shown as free


USABLE = (Verdict.FREE, Verdict.NOT_REGISTERED)


@dataclass(frozen=True)
class Mark:
    registry: str
    name: str
    verdict: Verdict
    reason: str = ""
    source: str = ""  # rules | snapshot | live | cache | none

    @property
    def free(self) -> bool:
        return self.verdict is Verdict.FREE

    @property
    def usable(self) -> bool:
        """What the `free` filter keeps: free, or not registered (its similar-name rule left unchecked)."""
        return self.verdict in USABLE

    def to_dict(self) -> dict:
        return {
            "registry": self.registry,
            "name": self.name,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "source": self.source,
        }

    def short(self) -> str:
        """'free on pypi', 'taken on npm', ... for a one-line summary."""
        return f"{self.verdict.value} on {self.registry}"
