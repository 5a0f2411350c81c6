"""Votes on the names of an answer, and the best-voted names."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request

from bot.api.deps import (
    AddressDep,
    AuthenticatedDep,
    CookieVoterDep,
    OwnerDep,
    RedisDep,
    SettingsDep,
    VotesDep,
    voter_cookies,
)
from bot.api.errors import NotFound, errors
from bot.api.routes.answers import ANSWER_ID
from bot.api.schemas import TopNameOut, VoteIn, VoteOut
from bot.api.voters import voter_for
from bot.metrics import count_vote
from core.errors import TNaaSError, shown
from core.limits import MAX_CORPUS_NAME_LEN
from store.rate_limit import RateLimits, web_counters
from store.team_corpora import OPERATOR, TeamCorpora, corpus_id
from store.voters import VoterBatches
from store.votes import WEB_CHANNEL

router = APIRouter(tags=["votes"])


@router.post("/votes", response_model=VoteOut, responses=errors(400, 404, 413, 429, 503))
def vote(
    request: Request,
    body: VoteIn,
    votes: VotesDep,
    redis: RedisDep,
    settings: SettingsDep,
    address: AddressDep,
    cookie_voter: CookieVoterDep,
    authenticated: AuthenticatedDep,
) -> VoteOut:
    """Thumbs up (direction 1) or down (-1) on a candidate of an answer; `added: false` takes it back.

    The vote counts under the page's signed voter cookie, else the `voter` named by a caller with
    the API token, else the caller's address; `TNAAS_VOTE_RATE` per minute per voter, `TNAAS_ADDRESS_PEOPLE` times that per address.
    Voter cookies minted in bulk for one address count as that address: one person. `up` and `down`
    are the people for and against the name.
    """
    tag = voter_cookies(request).address_tag(address)
    voter = voter_for(cookie_voter, body.voter, authenticated, tag, VoterBatches(redis), time.time())
    RateLimits(redis).check_each(web_counters("vote", voter.id, address, settings.vote_rate, settings.address_people))
    shown = votes.candidates_on(WEB_CHANNEL, body.answer_id) if ANSWER_ID.match(body.answer_id) else 0
    if shown == 0:
        raise NotFound(f"No answer {body.answer_id[:64]!r} with names to vote on.")
    if body.index > shown:
        raise TNaaSError(f"That answer has {shown} names; there is no #{body.index}.")
    changed = votes.vote(WEB_CHANNEL, body.answer_id, body.index, voter.id, body.direction, body.added, voter.batch)
    if changed and body.added:
        count_vote("web", body.direction)
    tally = votes.tally(WEB_CHANNEL, body.answer_id).get(body.index, {"up": 0, "down": 0})
    return VoteOut(answer_id=body.answer_id, index=body.index, **tally)


@router.get("/top", response_model=list[TopNameOut], responses=errors(400, 429, 503))
def top(
    votes: VotesDep,
    redis: RedisDep,
    settings: SettingsDep,
    address: AddressDep,
    cookie_voter: CookieVoterDep,
    owner: OwnerDep,
    corpus: Annotated[
        str | None,
        Query(
            max_length=MAX_CORPUS_NAME_LEN,
            description="one of your own corpora: its best-voted names, which are in no one else's top",
            examples=["norse-gods"],
        ),
    ] = None,
) -> list[TopNameOut]:
    """Best-voted names (people up minus people down), across Slack and the web, each with the corpus it
    was made for (your own corpora's only with `corpus`); `TNAAS_USER_RATE` calls per minute per person
    (the page's voter, else the address), `TNAAS_ADDRESS_PEOPLE` times that per address."""
    person = f"web-{cookie_voter.id}" if cookie_voter else f"addr-{address}"
    RateLimits(redis).check_each(web_counters("top", person, address, settings.user_rate, settings.address_people))
    if not corpus:
        return [TopNameOut(**best._asdict()) for best in votes.top()]
    slug = corpus.strip().lower()
    if TeamCorpora(redis).resolve(owner, slug) != owner or owner == OPERATOR:
        raise TNaaSError(f"You have no corpus called '{shown(corpus)}': `top` of a corpus is for your own.")
    return [
        TopNameOut(name=best.name, corpus=slug, votes=best.votes) for best in votes.top(corpus=corpus_id(owner, slug))
    ]
