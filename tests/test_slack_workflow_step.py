"""The Workflow Builder step "Suggest names" end to end: the real web process and worker, Slack's signed
``function_executed`` events over HTTP, and the stand-in completing each execution as Slack does
(``testkit.slack_standin``)."""

import json

import pytest
from rq import Queue
from rq.registry import StartedJobRegistry

from testkit.processes import wait_until
from testkit.slack_standin import TOKEN, signed_post
from testkit.stacks import slack_stack

SECRET = "test-signing-secret"
QUEUE = "slack-step"
JSON = "application/json"
MAX_QUEUE = 30


@pytest.fixture(scope="module")
def stack(trained_artifacts, tmp_path_factory):
    """Redis, the Slack stand-in, `tnaas web` and one `tnaas worker`, all on 127.0.0.1."""
    env = {
        "TNAAS_MAX_QUEUE": MAX_QUEUE,
        "TNAAS_QUEUE": QUEUE,
        "TNAAS_DEFAULT_MODEL": "kn3",
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
    }
    with slack_stack(trained_artifacts, tmp_path_factory.mktemp("redis"), **env) as s:
        yield s


def send(stack, body: dict) -> int:
    return signed_post(f"{stack.base}/slack/events", json.dumps(body).encode(), JSON, SECRET)[0]


def completion(stack, body: dict) -> dict:
    execution = stack.slack.executions[body["event"]["function_execution_id"]]
    return wait_until(lambda: execution["completion"], timeout=30, what="the step's completion")


def settled(stack) -> None:
    queue = Queue(QUEUE, connection=stack.redis)
    wait_until(
        lambda: queue.count == 0 and StartedJobRegistry(QUEUE, connection=stack.redis).count == 0,
        timeout=30,
        what="the queue to drain",
    )


def completions(stack, execution: str) -> list[tuple[str, dict]]:
    return [
        (method, params)
        for method in ("functions.completeSuccess", "functions.completeError")
        for params in stack.slack.called(method)
        if params.get("function_execution_id") == execution
    ]


def test_the_step_completes_with_the_names_as_text_and_as_a_list(stack):
    body = stack.slack.function_executed({"corpus": "pokemon", "n": 4})
    assert send(stack, body) == 200
    outputs = completion(stack, body)["outputs"]
    assert len(outputs["names"]) == 4 and all(isinstance(n, str) and n for n in outputs["names"])
    assert outputs["names_text"] == "\n".join(outputs["names"])
    [(method, params)] = completions(stack, body["event"]["function_execution_id"])
    assert method == "functions.completeSuccess" and params["_token"] == TOKEN


def test_a_pattern_completes_with_names_that_fit_it(stack):
    body = stack.slack.function_executed({"corpus": "pokemon", "n": 3, "pattern": "p*ka*"})
    assert send(stack, body) == 200
    names = completion(stack, body)["outputs"]["names"]
    assert names and all(n.startswith("p") and n[2:4] == "ka" for n in names)


@pytest.mark.parametrize(
    "inputs, says",
    [
        ({"corpus": "cobol", "n": 3}, "I don't know a corpus called 'cobol'"),
        ({"corpus": "pokemon", "n": 99}, "between 1 and"),
        ({"n": 3}, "needs a corpus"),
        ({"corpus": "pokemon", "pattern": "*" * 200}, "at most"),
    ],
)
def test_inputs_a_user_can_fix_complete_the_step_with_an_error_in_words(stack, inputs, says):
    body = stack.slack.function_executed(inputs)
    assert send(stack, body) == 200
    done = completion(stack, body)
    assert says in done["error"] and "Traceback" not in done["error"]
    [(method, _)] = completions(stack, body["event"]["function_execution_id"])
    assert method == "functions.completeError"


def test_a_redelivered_event_completes_the_step_once(stack):
    body = stack.slack.function_executed({"corpus": "pokemon", "n": 2})
    again = body | {"event_id": body["event_id"] + "R"}  # Slack's retry may carry another event id
    assert [send(stack, body), send(stack, body), send(stack, again)] == [200, 200, 200]
    completion(stack, body)
    settled(stack)
    assert len(completions(stack, body["event"]["function_execution_id"])) == 1


def test_forged_or_unknown_step_events_change_nothing(stack):
    before = stack.slack.count("functions.completeSuccess") + stack.slack.count("functions.completeError")
    unknown = stack.slack.function_executed({"corpus": "pokemon"}, callback_id="delete_everything")
    assert send(stack, unknown) == 404  # no listener: Bolt's answer, nothing queued
    forged = stack.slack.function_executed({"corpus": "pokemon"})
    raw = json.dumps(forged).encode()
    assert signed_post(f"{stack.base}/slack/events", raw, JSON, "not-the-secret")[0] == 401
    malformed = stack.slack.function_executed({"corpus": "pokemon"})
    malformed["event"]["function_execution_id"] = "Fx../../etc"
    assert send(stack, malformed) == 200
    other_team = stack.slack.function_executed({"corpus": "pokemon"}, team="T-ELSEWHERE")
    assert send(stack, other_team) == 200  # a team that never installed the app: acknowledged, ignored
    settled(stack)
    after = stack.slack.count("functions.completeSuccess") + stack.slack.count("functions.completeError")
    assert after == before
    assert all(
        stack.slack.executions[b["event"]["function_execution_id"]]["state"] == "running"
        for b in (unknown, forged, other_team)
    )
    assert Queue(QUEUE, connection=stack.redis).count == 0


def test_a_step_event_naming_our_team_for_another_teams_execution_completes_nothing(stack):
    """The event says T1 (installed), the execution is another team's: Slack answers ``access_denied`` to
    our token; the job logs it and ends, once, without a retry."""
    body = stack.slack.function_executed({"corpus": "pokemon", "n": 2}, team="TELSEWHERE")
    body["team_id"] = "T1"
    execution = body["event"]["function_execution_id"]
    assert send(stack, body) == 200
    wait_until(lambda: completions(stack, execution), timeout=30, what="the completion tried")
    settled(stack)
    [(method, _)] = completions(stack, execution)
    assert method == "functions.completeSuccess" and stack.slack.executions[execution]["state"] == "running"


def test_the_stand_in_refuses_a_second_completion_and_an_unknown_execution(stack):
    """What the worker meets when Slack no longer runs the execution: the codes its table handles."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=TOKEN, base_url=stack.slack.url)
    body = stack.slack.function_executed({"corpus": "pokemon", "n": 2})
    assert send(stack, body) == 200
    completion(stack, body)
    for execution, code in [
        (body["event"]["function_execution_id"], "execution_not_in_running_state"),
        ("FxNOSUCHEXEC", "function_execution_not_found"),
        ("not-an-id", "invalid_function_execution_id"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            client.functions_completeError(function_execution_id=execution, error="again")
        assert refused.value.response["error"] == code


def test_a_full_queue_fails_the_step_at_once_with_the_executions_own_token(stack):
    from rq.suspension import resume, suspend

    queue = Queue(QUEUE, connection=stack.redis)
    suspend(stack.redis)  # the worker takes nothing while the queue fills up
    try:
        # a worker already waiting for a job may take one more: one beyond the bound
        filler = [queue.enqueue("builtins.len", "x") for _ in range(MAX_QUEUE + 1)]
        wait_until(lambda: queue.count >= MAX_QUEUE, what="the queue to be full")
        body = stack.slack.function_executed({"corpus": "pokemon", "n": 2})
        assert send(stack, body) == 200
        done = completion(stack, body)
    finally:
        queue.empty()
        resume(stack.redis)
    assert "busy" in done["error"] and filler
    [(method, params)] = completions(stack, body["event"]["function_execution_id"])
    assert method == "functions.completeError" and params["_token"] == body["event"]["bot_access_token"]


def test_a_step_whose_job_fails_for_good_is_completed_with_an_apology_once(stack):
    body = stack.slack.function_executed({"corpus": "pokemon", "n": 2})
    execution = body["event"]["function_execution_id"]
    stack.slack.fail(
        "functions.completeSuccess", "fatal_error", times=10, when=lambda p: p["function_execution_id"] == execution
    )
    assert send(stack, body) == 200
    done = wait_until(lambda: stack.slack.executions[execution]["completion"], timeout=60, what="the apology")
    settled(stack)
    assert done["error"].startswith("Something went wrong") and "fatal_error" not in done["error"]
    tries = [m for m, _ in completions(stack, execution)]
    assert tries == ["functions.completeSuccess"] * 3 + ["functions.completeError"]  # the first attempt, 2 retries
