"""What the routes need, as dependencies: a route's signature says what it uses, and a test can
override any of them (``app.dependency_overrides``). The web process puts the shared objects on
``app.state`` when it starts (see ``bot.web``)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from redis import Redis

from bot.api.errors import Unauthorized
from models.registry import ModelRegistry
from store.votes import VoteStore
from tnaas.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_redis(request: Request) -> Redis:
    """The API's connection: its timeout outlasts the wait for a job's answer."""
    return request.app.state.api_redis


def get_votes(redis: Annotated[Redis, Depends(get_redis)]) -> VoteStore:
    return VoteStore(redis)


def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
VotesDep = Annotated[VoteStore, Depends(get_votes)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
AddressDep = Annotated[str, Depends(client_address)]


def require_token(request: Request, settings: SettingsDep) -> None:
    """With TNAAS_API_TOKEN set, every API call needs ``Authorization: Bearer <token>``."""
    if not settings.api_token:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), settings.api_token.encode()):
        raise Unauthorized()
