"""What the listeners need, put into every request's context by ``bot.slack_app``."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from tnaas.settings import Settings

KEY = "tnaas"  # context[KEY] is the SlackDeps


@dataclass(frozen=True)
class SlackDeps:
    connection: Redis
    settings: Settings


def deps_of(context) -> SlackDeps:
    return context[KEY]
