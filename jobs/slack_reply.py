"""The worker's side of a Slack request: compute, then reply in a thread and seed the vote buttons.

Runs on a worker (never in the web process), so a slow Slack API call cannot delay an ack. For a
slash command the bot posts a short parent message in the channel and the candidates in its thread;
for a mention, the candidates go into the mention's thread. Each shown candidate is an impression.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from typing import Literal

from pydantic import BaseModel
from redis import Redis
from rq import get_current_job
from slack_sdk import WebClient
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.votes import KEYCAPS, VoteStore, impressions
from jobs import tasks
from jobs.contracts import CompleteRequest, DetectRequest, GenerateRequest
from tnaas.settings import get_settings


class ReplyTo(BaseModel):
    kind: Literal["slash", "mention"]
    channel: str
    user: str
    thread_ts: str | None = None  # the mention to answer in; None for a slash command


class SlackJob(BaseModel):
    request: GenerateRequest | CompleteRequest | DetectRequest
    reply: ReplyTo


@cache
def slack_client() -> WebClient:
    settings = get_settings()
    return WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)


def escape(text: str) -> str:
    """Slack mrkdwn control characters; user text is never rendered as a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(request, user: str) -> str:
    if isinstance(request, GenerateRequest):
        return f"<@{user}> asked for {request.n} {request.corpus} names"
    if isinstance(request, CompleteRequest):
        return f"<@{user}> asked to complete `{escape(request.pattern)}` ({request.corpus})"
    return f"<@{user}> asked what `{escape(request.text[:60])}` sounds like"


def candidate_blocks(result: dict) -> tuple[list, str]:
    lines = []
    for i, c in enumerate(result["candidates"], 1):
        mark = " _(already exists)_" if c["known"] else ""
        lines.append(f"{i}. *{escape(c['name'])}*{mark}")
    fallback = "\n".join(lines) or "No names found."
    votable = min(len(lines), len(KEYCAPS))
    hint = f"Vote with the number reactions. Model {result['model']} ({result['model_version']})."
    if len(lines) > votable:
        hint += f" Only the first {votable} can be voted on."
    blocks = [SectionBlock(text=MarkdownTextObject(text=fallback)), ContextBlock(elements=[MarkdownTextObject(text=hint)])]
    return blocks, fallback


def sounds_like_text(answer: dict) -> str:
    parts = []
    if answer["real_in"]:
        parts.append(f"*{escape(answer['text'])}* is a real name in: {', '.join(answer['real_in'])}.")
    if answer.get("verdict"):
        parts.append(f"Pokemon or tech? *{answer['verdict']['name']}* {answer['verdict']['probability']:.0%}")
    if answer["corpora"]:
        parts.append("Sounds like: " + ", ".join(f"{s['name']} {s['probability']:.0%}" for s in answer["corpora"]))
    if answer["language"] != "unknown":
        parts.append("Language: " + ", ".join(f"{s['name']} {s['probability']:.0%}" for s in answer["languages"]))
    parts += [f"_{n}_" for n in answer["notes"]]
    return "\n".join(parts) or "Nothing to say about that."


BUSY = "I'm busy right now: try again in a moment."


def waited_too_long(enqueued_at: datetime | None, ttl: int, now: datetime | None = None) -> bool:
    """A reply this late would only confuse: say "busy" instead."""
    if enqueued_at is None:
        return False
    now = now or datetime.now(timezone.utc)
    return (now - enqueued_at.replace(tzinfo=enqueued_at.tzinfo or timezone.utc)).total_seconds() > ttl


def reply_in_slack(payload: dict) -> dict:
    """Job: run the request, then post the reply where it belongs (or "busy" if it waited too long)."""
    job = SlackJob.model_validate(payload)
    request, to = job.request, job.reply
    client = slack_client()
    current = get_current_job()
    if current and waited_too_long(current.enqueued_at, get_settings().queue_ttl):
        client.chat_postEphemeral(channel=to.channel, user=to.user, text=BUSY, thread_ts=to.thread_ts)
        return {"error": BUSY}
    result = tasks.TASKS[request.kind](request.model_dump())
    if "error" in result:
        client.chat_postEphemeral(channel=to.channel, user=to.user, text=result["error"], thread_ts=to.thread_ts)
        return {"error": result["error"]}
    thread = to.thread_ts
    if to.kind == "slash":
        thread = client.chat_postMessage(channel=to.channel, text=headline(request, to.user))["ts"]
    if isinstance(request, DetectRequest):
        posted = client.chat_postMessage(channel=to.channel, thread_ts=thread, text=sounds_like_text(result["answer"]))
        return {"ts": posted["ts"]}
    blocks, fallback = candidate_blocks(result)
    posted = client.chat_postMessage(channel=to.channel, thread_ts=thread, text=fallback, blocks=blocks)
    ts = posted["ts"]
    connection = current.connection if current else Redis.from_url(get_settings().redis_url)
    VoteStore(connection).record_impressions(impressions(result, to.channel, ts, request.n, to.user, "slack"))
    for name in KEYCAPS[: len(result["candidates"])]:
        client.reactions_add(channel=to.channel, timestamp=ts, name=name)
    return {"ts": ts, "candidates": len(result["candidates"])}
