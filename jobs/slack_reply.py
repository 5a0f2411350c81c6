"""The worker's side of a Slack request: compute, then reply in a thread and seed the vote buttons.

Runs on a worker (never in the web process), so a slow Slack API call cannot delay an ack. For a
slash command the bot posts a short parent message in the channel and the candidates in its thread;
for a mention, the candidates go into the mention's thread. Each shown candidate is an impression.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from pydantic import BaseModel
from slack_sdk import WebClient
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from jobs.contracts import CompleteRequest, DetectReply, GenerateRequest, NamesReply, SlackJob, UserError
from jobs.pipeline import answer, impressions
from jobs.worker import WorkerContext
from models.sounds_like import SoundsLike, percentages
from store.arms import ArmCounts
from store.votes import KEYCAPS, VoteStore
from tnaas.errors import Busy
from tnaas.settings import Settings

BUSY = str(Busy())


class Posted(BaseModel):
    """What a Slack job did (kept by RQ as its result, for inspection)."""

    ts: str | None = None  # the message with the answer
    candidates: int = 0
    error: str | None = None  # what the user was told privately instead


@cache
def slack_client(token: str | None, base_url: str) -> WebClient:
    return WebClient(token=token, base_url=base_url)


def escape(text: str) -> str:
    """Slack mrkdwn control characters; user text is never rendered as a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(request, user: str) -> str:
    if isinstance(request, GenerateRequest):
        return f"<@{user}> asked for {request.n} {request.corpus} names"
    if isinstance(request, CompleteRequest):
        return f"<@{user}> asked to complete `{escape(request.pattern)}` ({request.corpus})"
    return f"<@{user}> asked what `{escape(request.text[:60])}` sounds like"


def candidate_blocks(reply: NamesReply) -> tuple[list, str]:
    lines = []
    for i, c in enumerate(reply.candidates, 1):
        mark = " _(already exists)_" if c.known else ""
        lines.append(f"{i}. *{escape(c.name)}*{mark}")
    fallback = "\n".join(lines) or "No names found."
    votable = min(len(lines), len(KEYCAPS))
    hint = f"Vote with the number reactions. Model {reply.model} ({reply.model_version})."
    if len(lines) > votable:
        hint += f" Only the first {votable} can be voted on."
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=fallback)),
        ContextBlock(elements=[MarkdownTextObject(text=hint)]),
    ]
    return blocks, fallback


def sounds_like_text(answer: SoundsLike) -> str:
    parts = []
    if answer.real_in:
        parts.append(f"*{escape(answer.text)}* is a real name in: {', '.join(answer.real_in)}.")
    if answer.verdict:
        parts.append(f"Pokemon or tech? *{answer.verdict.name}* {answer.verdict.probability:.0%}")
    if answer.corpora:
        parts.append(f"Sounds like: {percentages(answer.corpora)}")
    if answer.language != "unknown":
        parts.append(f"Language: {percentages(answer.languages)}")
    parts += [f"_{n}_" for n in answer.notes]
    return "\n".join(parts) or "Nothing to say about that."


def waited_too_long(enqueued_at: datetime | None, ttl: int, now: datetime | None = None) -> bool:
    """A reply this late would only confuse: say "busy" instead."""
    if enqueued_at is None:
        return False
    now = now or datetime.now(UTC)
    return (now - enqueued_at.replace(tzinfo=enqueued_at.tzinfo or UTC)).total_seconds() > ttl


def client_for(settings: Settings) -> WebClient:
    return slack_client(settings.slack_bot_token, settings.slack_api_url)


def reply(job: SlackJob, enqueued_at: datetime | None, context: WorkerContext) -> Posted:
    """Run the request, then post the reply where it belongs (or "busy" if it waited too long)."""
    request, to = job.request, job.reply
    client = client_for(context.settings)
    if waited_too_long(enqueued_at, context.settings.queue_ttl):
        client.chat_postEphemeral(channel=to.channel, user=to.user, text=BUSY, thread_ts=to.thread_ts)
        return Posted(error=BUSY)
    result = answer(request, context.models, ArmCounts(context.connection), context.settings)
    if isinstance(result, UserError):
        client.chat_postEphemeral(channel=to.channel, user=to.user, text=result.error, thread_ts=to.thread_ts)
        return Posted(error=result.error)
    thread = to.thread_ts
    if to.kind == "slash":
        thread = client.chat_postMessage(channel=to.channel, text=headline(request, to.user))["ts"]
    if isinstance(result, DetectReply):
        posted = client.chat_postMessage(channel=to.channel, thread_ts=thread, text=sounds_like_text(result.answer))
        return Posted(ts=posted["ts"])
    blocks, fallback = candidate_blocks(result)
    ts = client.chat_postMessage(channel=to.channel, thread_ts=thread, text=fallback, blocks=blocks)["ts"]
    VoteStore(context.connection).record_impressions(impressions(result, to.channel, ts, request.n, to.user, "slack"))
    for name in KEYCAPS[: len(result.candidates)]:
        client.reactions_add(channel=to.channel, timestamp=ts, name=name)
    return Posted(ts=ts, candidates=len(result.candidates))
