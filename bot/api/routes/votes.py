"""Votes on the names of an answer, and the best-voted names."""

from __future__ import annotations

from fastapi import APIRouter

from bot.api.deps import VotesDep
from bot.api.errors import NotFound
from bot.api.routes.answers import ANSWER_ID
from bot.api.schemas import VoteIn, VoteOut
from bot.metrics import count_vote
from store.votes import WEB_CHANNEL
from tnaas.errors import TNaaSError

router = APIRouter(tags=["votes"])


@router.post("/votes", response_model=VoteOut)
def vote(body: VoteIn, votes: VotesDep) -> VoteOut:
    """Thumbs up (direction 1) or down (-1) on a candidate of an answer; `added: false` takes it back."""
    shown = votes.candidates_on(WEB_CHANNEL, body.answer_id) if ANSWER_ID.match(body.answer_id) else 0
    if shown == 0:
        raise NotFound(f"No answer {body.answer_id[:64]!r} with names to vote on.")
    if body.index > shown:
        raise TNaaSError(f"That answer has {shown} names; there is no #{body.index}.")
    if votes.vote(WEB_CHANNEL, body.answer_id, body.index, body.voter, body.direction, body.added) and body.added:
        count_vote("web", body.direction)
    tally = votes.tally(WEB_CHANNEL, body.answer_id).get(body.index, {"up": 0, "down": 0})
    return VoteOut(answer_id=body.answer_id, index=body.index, **tally)


@router.get("/top", response_model=list[tuple[str, int]])
def top(votes: VotesDep) -> list[tuple[str, int]]:
    """Best-voted names (up minus down), across Slack and the web."""
    return votes.top()
