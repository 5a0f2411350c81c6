"""Typed, user-facing errors. Each carries a short friendly message that says what would work."""

from __future__ import annotations


def shown(text: str, limit: int = 40) -> str:
    """User text safe to echo in a message, in quotes or a code span: no backticks, no line breaks,
    bounded length. (Each surface escapes its own markup on the way out: Slack's mrkdwn, HTML.)"""
    text = " ".join(text.replace("`", "'").split())
    return text[:limit] + ("…" if len(text) > limit else "")


class TNaaSError(ValueError):
    """Bad input a user can fix; ``str(err)`` is safe to show them as-is."""


class CommandError(TNaaSError):
    """The request is not one we understand, or breaks a limit; the message says what would work."""


class Busy(TNaaSError):
    """Too much is queued: a reply minutes late is worse than "try again"."""

    def __init__(self) -> None:
        super().__init__("I'm busy right now: try again in a moment.")


class Unavailable(TNaaSError):
    """Redis did not take a request in time (down, paused, refusing writes): nothing was queued, and its
    user is told so at once rather than left waiting for an answer that will not come."""

    def __init__(self) -> None:
        super().__init__("I could not take that right now: try again in a minute.")


class UnknownCorpus(TNaaSError):
    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"I don't know a corpus called '{shown(name)}'. Try one of: {', '.join(known)}.")


class UnknownModel(TNaaSError):
    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(f"I don't know a model called '{shown(name)}'. Try one of: {', '.join(known)}.")


class InvalidPattern(TNaaSError):
    """The pattern itself is malformed (empty, too long)."""


class ImpossiblePattern(TNaaSError):
    """No name of this shape has probability above zero under the chosen model."""


class PatternTooCostly(TNaaSError):
    """Filling the pattern would take more work than one request may (``TNAAS_COMPLETE_BUDGET``)."""

    def __init__(self) -> None:
        super().__init__(
            "That pattern has too many unknown letters to fill quickly with this model: "
            "fix a few more letters, or try a smaller model (model=kn3 or model=markov3)."
        )


class ModelUnavailable(TNaaSError):
    """A model the user asked for (or the default) is not trained for this corpus on this deployment."""

    def __init__(self, model: str, corpus: str, trained: list[str]):
        self.model, self.corpus, self.trained = model, corpus, trained
        offer = f"Try one of: {', '.join(trained)}." if trained else "No model is ready for it yet."
        super().__init__(f"The model {model} isn't available for {corpus}. {offer}")


def about(seconds: float) -> str:
    """``seconds`` as people say it: "about 40 s", "about 3 min"."""
    return f"about {max(5, round(seconds / 5) * 5):.0f} s" if seconds < 90 else f"about {round(seconds / 60):.0f} min"


class StillTraining(TNaaSError):
    """What was asked for is being trained by the stack right now (its first minutes): it says when."""

    def __init__(self, what: str, seconds: float, trained: list[str] | None = None):
        self.what, self.seconds = what, seconds
        offer = f" Meanwhile, try one of: {', '.join(trained)}." if trained else ""
        super().__init__(f"{what} is still training: ready in {about(seconds)}.{offer}")


class OperatorError(Exception):
    """A problem only the operator can fix: it may name server paths and commands, so the command line
    shows it while Slack and the API never do (a job that hits one fails, and the user hears "sorry")."""


class ModelNotTrained(OperatorError):
    def __init__(self, path: str):
        super().__init__(f"No trained model at {path}. Run `tnaas train` first.")


class ArtifactVersionMismatch(OperatorError):
    """A saved model was written by an incompatible format version: retrain it."""


class InvalidSeed(TNaaSError):
    """A name to start `like` from that no walk can start from (empty, too long, unknown letters)."""


class BadCorpusList(TNaaSError):
    """An uploaded name list, or the name it is to be kept under, that cannot become a corpus: the
    message says why and what would work; nothing was kept."""
