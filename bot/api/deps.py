"""What the routes need, as dependencies: a route's signature says what it uses, and a test can
override any of them (``app.dependency_overrides``). The web process puts the shared objects on
``app.state`` when it starts (see ``bot.web``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from starlette.concurrency import run_in_threadpool

from bot.api.batching import Batcher
from bot.api.voters import COOKIE, CookieVoter, VoterCookies, signing_key
from bot.edge import token_ok
from core.settings import Settings
from store.team_corpora import owner_key
from store.votes import VoteStore


# The plain look-ups are ``async def``: FastAPI runs a plain ``def`` dependency in a thread, a hop
# that cost more than the look-up itself.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_redis(request: Request) -> Redis:
    """The API's connection: its timeout outlasts the wait for a job's answer."""
    return request.app.state.api_redis


async def get_async_redis(request: Request) -> AsyncRedis:
    """The event loop's connection pool (``redis.asyncio``): rate limits, claims, answers."""
    return request.app.state.aredis


async def get_votes(redis: Annotated[Redis, Depends(get_redis)]) -> VoteStore:
    return VoteStore(redis)


def address_of(request: Request) -> str:
    """The connection's address (a proxy's X-Forwarded-For only from TNAAS_FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


async def client_address(request: Request) -> str:
    return address_of(request)


@dataclass(frozen=True)
class Asker:
    """What an answer route (generate, complete, ...) needs, as one dependency: FastAPI resolves each
    dependency of a route on every request, and four of them cost more than the route's own work."""

    aredis: AsyncRedis
    batcher: Batcher
    settings: Settings
    address: str  # the caller's, for its rate limit
    caller: str  # who asks (``caller_of``): the owner of their idempotency keys


async def asker(request: Request) -> Asker:
    state = request.app.state
    address = await client_address(request)
    return Asker(state.aredis, state.batcher, state.settings, address, await caller_of(request, address))


async def caller_of(request: Request, address: str) -> str:
    """Whose an ``Idempotency-Key`` is: the page's signed voter, else the API token's holder, else the
    address. Another caller sending the same key and body gets an answer of its own, never the first
    caller's (which it could then vote on)."""
    if request.cookies.get(COOKIE):
        cookies = getattr(request.app.state, "voter_cookies", None) or await run_in_threadpool(voter_cookies, request)
        if voter := cookies.verify(request.cookies[COOKIE]):
            return f"web-{voter}"
    if authenticated(request):
        return "token-" + hashlib.sha256(request.app.state.settings.api_token.encode()).hexdigest()[:16]
    return f"addr-{address}"


async def corpus_owner(request: Request) -> str:
    """Whose team corpora a caller sees and adds: the same identity as its idempotency keys (``caller_of``),
    hashed (``store.team_corpora.owner_key``)."""
    return owner_key(await caller_of(request, address_of(request)))


def voter_cookies(request: Request) -> VoterCookies:
    """Signs and checks the page's voter cookie (the key is fetched once per process)."""
    state = request.app.state
    if getattr(state, "voter_cookies", None) is None:
        state.voter_cookies = VoterCookies(signing_key(state.settings.secret_key, state.redis))
    return state.voter_cookies


def cookie_voter(request: Request) -> CookieVoter | None:
    """The voter of a genuine ``tnaas_voter`` cookie, else None."""
    value = request.cookies.get(COOKIE)
    return voter_cookies(request).verify(value) if value else None


def authenticated(request: Request) -> bool:
    """The caller presented the API token (the edge refuses callers without it when one is set)."""
    token = request.app.state.settings.api_token
    return bool(token) and token_ok(request.headers.get("authorization", ""), token)


SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
AsyncRedisDep = Annotated[AsyncRedis, Depends(get_async_redis)]
VotesDep = Annotated[VoteStore, Depends(get_votes)]
AddressDep = Annotated[str, Depends(client_address)]
AskerDep = Annotated[Asker, Depends(asker)]
CookieVoterDep = Annotated[CookieVoter | None, Depends(cookie_voter)]
AuthenticatedDep = Annotated[bool, Depends(authenticated)]
OwnerDep = Annotated[str, Depends(corpus_owner)]
