"""The worker's side of the Workflow Builder step "Suggest names": the step's inputs checked as every
surface checks a request, the names made, and the step completed once, with its outputs
(``functions.completeSuccess``) or with what is wrong in words (``functions.completeError``), which
Slack shows the workflow's author.

Inputs (manifest.yml declares them): ``corpus`` (required: a built-in corpus or one of the team's own),
``n``, ``pattern`` (letters and ``*``),
``free`` (only names free on the corpus' registry; with a pattern, the likeliest free completions). Outputs: ``names_text``, the
names one per line, and ``names``, the list.

Slack's answers to a completion, as ``bot.slack.web_api``'s table says: an execution Slack no longer runs
(``function_execution_not_found``, ``execution_not_in_running_state``, ``invalid_function_execution_id``,
``access_denied``) or a lost token is logged and the job ends; outputs Slack refuses
(``parameter_validation_failed``) complete the step with an error instead; anything else (a rate
limit) fails the job and rq runs it again, which completes it at most once (Slack refuses a second);
the last attempt failing completes the step with an apology (``bot.slack.tasks.step_failed``)."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from redis import Redis
from slack_sdk.errors import SlackApiError

from bot.slack.web_api import LOST_ACCESS, NoToken, Tokens, error_code
from core.errors import TNaaSError
from core.settings import Settings
from corpora import corpus_names
from jobs.contracts import (
    OWN_CORPORA,
    CompleteRequest,
    GenerateRequest,
    NamesReply,
    StepJob,
    UserError,
    first_problem,
)
from jobs.pipeline import answer
from jobs.worker import WorkerContext
from store.team_corpora import TeamCorpora, team_owner

log = logging.getLogger(__name__)
STEP_GONE = {
    "function_execution_not_found",
    "execution_not_in_running_state",
    "invalid_function_execution_id",
    "access_denied",
}
OUTPUTS_REFUSED = "parameter_validation_failed"
FAILED = "Something went wrong while making the names; the operator can see why. Try the workflow again later."
NO_NAMES = "No names came out of that: try another pattern or corpus, or without `free`."
FIELDS = ("corpus", "pattern", "n", "free")


def step_request(inputs: dict, own: dict[str, str] | None = None) -> GenerateRequest | CompleteRequest:
    """The request the step's inputs ask for; a TNaaSError in words when they cannot be answered.
    ``own``: {slug: owner} of the team corpora the workflow's team may name (its own, the operator's)."""
    corpus, pattern, n, free = (inputs.get(k) for k in FIELDS)
    if not isinstance(corpus, str) or not corpus.strip():
        raise TNaaSError("The step needs a corpus, e.g. pokemon or pypi.")
    corpus = corpus.strip()
    fields: dict = {"corpus": corpus}
    if n not in (None, ""):
        fields["n"] = n
    context = {OWN_CORPORA: list(own or {})}
    try:
        if isinstance(pattern, str) and pattern.strip():
            request = CompleteRequest.model_validate(
                fields | {"pattern": pattern, "free": free in (True, "true")}, context=context
            )
        else:
            request = GenerateRequest.model_validate(fields | {"free": free in (True, "true")}, context=context)
    except ValidationError as err:
        raise first_problem(err, FIELDS) from None
    if own and request.corpus in own:
        request.owner = own[request.corpus]
    return request


def team_corpora(connection: Redis, team: str, corpus: object) -> dict[str, str]:
    """{slug: owner} of the corpora ``team`` may name, read only when the step names no built-in corpus."""
    if not isinstance(corpus, str) or corpus.strip() in corpus_names():
        return {}
    return {slug: by for slug, (by, _) in TeamCorpora(connection).visible(team_owner(team)).items()}


def outputs_of(reply: NamesReply) -> dict:
    names = [c.name for c in reply.candidates]
    return {"names_text": "\n".join(names), "names": names}


def run_step(step: StepJob, context: WorkerContext) -> dict:
    """Make the names and complete the step; what was done, for rq's result."""
    try:
        own = team_corpora(context.connection, step.team, step.inputs.get("corpus"))
        request = step_request(step.inputs, own)
        caller = f"slack:{step.team}:step"  # whose registry budget `free`'s look-ups spend
        reply = answer(
            request, context.models, context.arms, context.settings, context.availability, caller, context.team
        )
    except TNaaSError as err:
        reply = UserError(error=str(err))
    if isinstance(reply, NamesReply) and not reply.candidates:
        reply = UserError(error=reply.note or NO_NAMES)
    if not isinstance(reply, NamesReply):
        return complete(step, context.connection, context.settings, error=getattr(reply, "error", None) or NO_NAMES)
    return complete(step, context.connection, context.settings, outputs=outputs_of(reply))


def complete(
    step: StepJob, connection: Redis, settings: Settings, *, outputs: dict | None = None, error: str | None = None
) -> dict:
    """``functions.completeSuccess`` with ``outputs``, else ``functions.completeError`` with ``error``."""
    try:
        client = Tokens(connection, settings).client(step.team, step.enterprise)
        if outputs is not None:
            client.functions_completeSuccess(function_execution_id=step.execution, outputs=outputs)
            return {"completed": len(outputs["names"])}
        client.functions_completeError(function_execution_id=step.execution, error=error or NO_NAMES)
        return {"failed": error}
    except NoToken as err:
        log.error("team %s: no token to complete step %s: %s", step.team, step.execution, err.code)
        return {"error": err.code}
    except SlackApiError as err:
        code = error_code(err)
        if code in STEP_GONE or code in LOST_ACCESS:
            log.warning("team %s: step %s not completed: %s", step.team, step.execution, code)
            return {"error": code}
        if code == OUTPUTS_REFUSED and outputs is not None:
            log.error("team %s: Slack refused step %s's outputs: %s", step.team, step.execution, err.response.data)
            return complete(
                step, connection, settings, error="TNaaS made outputs this step does not accept; tell its operator."
            )
        raise
