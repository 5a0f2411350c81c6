"""Typed, user-facing errors. Each carries a short friendly message that says what would work."""

from __future__ import annotations


class TNaaSError(ValueError):
    """Bad input a user can fix; ``str(err)`` is safe to show them as-is."""


class CommandError(TNaaSError):
    """The request is not one we understand, or breaks a limit; the message says what would work."""


class Busy(TNaaSError):
    """Too much is queued: a reply minutes late is worse than "try again"."""

    def __init__(self) -> None:
        super().__init__("I'm busy right now: try again in a moment.")


class UnknownCorpus(TNaaSError):
    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"I don't know a corpus called '{name}'. Try one of: {', '.join(known)}.")


class UnknownModel(TNaaSError):
    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"I don't know a model called '{name}'. Try one of: {', '.join(known)}.")


class InvalidPattern(TNaaSError):
    """The pattern itself is malformed (empty, too long)."""


class ImpossiblePattern(TNaaSError):
    """No name of this shape has probability above zero under the chosen model."""


class ModelNotTrained(TNaaSError):
    def __init__(self, path: str):
        super().__init__(f"No trained model at {path}. Run `tnaas train` first.")


class ArtifactVersionMismatch(TNaaSError):
    """A saved model was written by an incompatible format version: retrain it."""
