"""The Workflow Builder step "Suggest names" (``app.function``): Slack sends ``function_executed``; the
listener claims the execution (a redelivered event finds it claimed and does nothing) and queues the job
that makes the names and completes the step (``bot.slack.workflow_step``). Bolt acknowledges the event
before the listener runs; when the queue is full, Bolt's ``fail`` (with the execution's own token) ends
the step at once with "busy" rather than leaving the workflow to time out."""

from __future__ import annotations

import logging
import re

from slack_sdk.errors import SlackApiError

from bot.slack.batching import enqueue_step
from bot.slack.deps import deps_of
from bot.slack.web_api import error_code
from core.errors import Busy
from core.limits import SLACK_STEP_CLAIM_SECONDS
from jobs.contracts import StepJob
from store.claims import Claims

log = logging.getLogger(__name__)
STEP = "suggest_names"  # the function's callback_id, as the manifests declare it
EXECUTION = re.compile(r"Fx[A-Za-z0-9]{1,40}")  # Slack's function_execution_id (an rq job id too)
INPUTS = ("corpus", "n", "pattern", "free")  # the step's input parameters; anything else is not kept


def suggest_names(event: dict, context, fail) -> None:
    execution = event.get("function_execution_id")
    team = context.team_id
    if not isinstance(execution, str) or not EXECUTION.fullmatch(execution) or not team:
        log.warning("a %s step without a well-formed execution id or a team was ignored", STEP)
        return
    given = event.get("inputs")
    inputs = {k: given[k] for k in INPUTS if k in given} if isinstance(given, dict) else {}
    deps = deps_of(context)
    if not Claims(deps.connection).claim(f"step:{execution}", SLACK_STEP_CLAIM_SECONDS):
        return  # Slack's redelivery of an execution already queued: it completes once
    step = StepJob(execution=execution, team=team, enterprise=context.enterprise_id, inputs=inputs)
    try:
        enqueue_step(deps.connection, step, deps.settings)
    except Busy as busy:  # the event is acknowledged already: the step fails now, in words, not by timing out
        log.warning("team %s: the queue is full, step %s was not run", team, execution)
        try:
            fail(str(busy))
        except SlackApiError as err:
            log.warning("team %s: could not fail step %s: %s", team, execution, error_code(err))
