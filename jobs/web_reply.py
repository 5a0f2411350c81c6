"""The worker's side of an API / web page request: compute, and record the shown names as impressions.

Impressions are recorded here, once, where the answer is made: whether the browser gets the answer
within the API's wait or polls for it later, the votes that follow find their candidates.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from rq import get_current_job

from bot.votes import VoteStore, impressions
from jobs import tasks
from jobs.contracts import CompleteRequest, DetectRequest, GenerateRequest

WEB_CHANNEL = "web"


class WebJob(BaseModel):
    request: GenerateRequest | CompleteRequest | DetectRequest = Field(discriminator="kind")
    client: str  # who asked (the page's voter id, else the address): impressions' requested_by


def answer_on_web(payload: dict) -> dict:
    job = WebJob.model_validate(payload)
    result = tasks.TASKS[job.request.kind](job.request.model_dump())
    current = get_current_job()
    if current is not None and result.get("candidates"):
        VoteStore(current.connection).record_impressions(
            impressions(result, WEB_CHANNEL, current.id, job.request.n, job.client, "web"))
    return result
