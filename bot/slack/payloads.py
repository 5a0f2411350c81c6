"""What Slack sends to ``/slack/events``, as Bolt and our listeners read it: each part they read has the
type Slack gives it. Bolt reads a body's ids, actions and events without looking (an ``actions`` that
is empty, a string or ``[null]``, a team that is a number: each raised inside Bolt, an HTTP 500), so the
endpoint checks the body Bolt parsed against these before Bolt sees it, and refuses the rest (400).

Everything else a body carries passes as it is: Bolt and the listeners do not read it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class Ref(Part):
    """A team, user, channel or enterprise given as an object (Bolt reads its ``id``)."""

    id: str | None = None


Id = str | Ref | None  # how Slack names a team, user, channel or enterprise: an id, or an object holding one


class Authorization(Part):
    enterprise_id: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    is_enterprise_install: bool | None = None


class Shared(Part):
    """What every body may carry and Bolt reads to know whose request it is."""

    team: Id = None
    user: Id = None
    channel: Id = None
    enterprise: Id = None
    team_id: str | None = None
    user_id: str | None = None
    channel_id: str | None = None
    enterprise_id: str | None = None
    is_enterprise_install: bool | None = None
    authorizations: list[Authorization] | None = None
    response_url: str | None = None
    response_urls: list[Part] | None = None
    function_execution_id: str | None = None
    bot_access_token: str | None = None


class Item(Part):
    """What a reaction is on."""

    type: str
    channel: str | None = None
    ts: str | None = None


class Event(Shared):
    type: str
    user_team: str | None = None
    text: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    event_ts: str | None = None
    channel_type: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    reaction: str | None = None
    tab: str | None = None
    item: Item | None = None
    message: Shared | None = None
    previous_message: Shared | None = None

    @model_validator(mode="after")
    def _what_its_listener_reads(self) -> Event:
        needed = {
            "app_mention": ("user", "channel", "ts"),
            "message": ("channel",),
            "reaction_added": ("user", "reaction"),
            "reaction_removed": ("user", "reaction"),
            "app_home_opened": ("user",),
        }.get(self.type, ())
        if missing := [name for name in needed if not isinstance(getattr(self, name), str)]:
            raise ValueError(f"a {self.type} event without {', '.join(missing)}")
        on = self.item
        if self.type.startswith("reaction_") and (on is None or (on.type == "message" and not (on.channel and on.ts))):
            raise ValueError(f"a {self.type} event without the message it is on")
        return self


class Envelope(Shared):
    """An Events API request: a URL check, an event, or word that Slack is holding events back."""

    type: Literal["url_verification", "event_callback", "app_rate_limited"]
    challenge: str | None = None
    event_id: str | None = None
    event: Event | None = None
    is_ext_shared_channel: bool | None = None
    context_team_id: str | None = None
    context_enterprise_id: str | None = None

    @model_validator(mode="after")
    def _an_event_is_whole(self) -> Envelope:
        if self.type == "event_callback" and (self.event is None or self.event_id is None):
            raise ValueError("an event_callback without its event or event_id")
        return self


class Action(Part):
    action_id: str
    block_id: str | None = None
    value: str | None = None
    type: str | None = None


class SubmittedView(Part):
    id: str | None = None
    callback_id: str | None = None
    state: Part | None = None


class Container(Part):
    channel_id: str | None = None
    message_ts: str | None = None


class Interaction(Shared):
    """What the app asks Slack for in its manifest: a click on a button or a menu of our messages or
    Home tab (``block_actions``), the global and message shortcuts, and the modal's submission; no other type."""

    type: Literal["block_actions", "shortcut", "message_action", "view_submission"]
    user: Ref
    actions: list[Action] | None = Field(None, min_length=1)
    container: Container | None = None
    view: SubmittedView | None = None
    message: Shared | None = None
    callback_id: str | None = None
    trigger_id: str | None = None

    @model_validator(mode="after")
    def _what_its_listener_reads(self) -> Interaction:
        needed = {
            "block_actions": "actions",
            "shortcut": "callback_id",
            "message_action": "callback_id",
            "view_submission": "view",
        }[self.type]
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.type} without its {needed}")
        return self


class SlashCommand(Shared):
    """A form's fields are text; these are the ones a command cannot do without."""

    command: str
    user_id: str
    channel_id: str
    text: str = ""


KINDS: dict[str, type[BaseModel]] = {"event": Envelope, "interaction": Interaction, "command": SlashCommand}
