"""The worker's side of a Slack request: compute the answer once, then post it where it belongs, one
recorded step at a time, so that every command is answered and nothing is posted twice.

Runs on a worker (never in the web process), so a slow Slack API call cannot delay an ack.

- Where: for a slash command a headline in the channel and the candidates in its thread (the app has
  ``chat:write.public``, so no channel needs joining); for a mention, the mention's thread; for a
  direct message, the conversation. Where the bot cannot post (a private channel or DM it is not in,
  an archived channel, a public channel without ``chat:write.public``), a slash command's answer goes
  through its ``response_url`` (in the channel, no membership needed), and otherwise to the user by
  direct message. Help, errors and "busy" are private: the response_url's ephemeral reply, or
  ``chat.postEphemeral``, or a direct message. Slack's error codes are handled per call
  (``bot.slack.web_api`` lists them and what is done about each).
- Once: each step is recorded in ``store.replies.ReplyProgress`` before the next starts (the answer
  itself first), so a rerun of the job (worker killed, Slack error, rq retry) continues where the
  first attempt stopped.
- Within rate limits: candidates carry vote buttons (no API call); keycap reactions are seeded only
  while the team is learning the convention, within a per-workspace budget (``store.slack_teams``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from concurrent.futures import wait
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel
from redis import Redis
from rq.timeouts import BaseTimeoutException
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from availability.checker import AvailabilityChecker
from availability.rules import REGISTRIES
from bot.slack.messages import (
    ShortlistMarks,
    candidate_blocks,
    check_text,
    corpus_report_text,
    done_text,
    escape,
    headline,
    home_view,
    shortlist_text,
    sounds_like_text,
    standings_text,
    word_state_view,
)
from bot.slack.web_api import (
    LOST_ACCESS,
    NOT_HERE,
    RATE_LIMITED,
    SEED_DONE,
    SEED_STOP,
    NoToken,
    Tokens,
    error_code,
    retry_after,
    update_view,
)
from core.errors import Busy
from core.limits import SHORTLIST_MAX, SLACK_BATCH_MAX
from core.observability import ContextThreadPool
from core.settings import Settings
from corpora import corpus_names
from jobs.contracts import CheckReply, DetectReply, MarkOut, NamesReply, SlackJob, UserError, reply_from
from jobs.pipeline import answer, impressions
from jobs.queueing import queued_too_long
from jobs.worker import WorkerContext
from store.arms import ArmCounts
from store.replies import ReplyProgress, ReplyTeams
from store.shortlists import ShortlistEntry, Shortlists
from store.slack_teams import TeamHabits
from store.team_corpora import TeamCorpora, team_owner
from store.votes import KEYCAPS, VoteStore

log = logging.getLogger(__name__)
BUSY = str(Busy())
FAILED = "Sorry, something went wrong on my side and I couldn't answer that. Please try again in a moment."
SLOW_DOWN = "Slack asked me to slow down, so I couldn't answer that. Please try again in a minute."
LOST = "I can't post in this workspace any more (Slack says `{code}`): ask an admin to reinstall TNaaS."
POSTED_STEPS = ("candidates", "response_url", "dm")  # a reply that reached one of these was delivered
HEARD_STEPS = (*POSTED_STEPS, "told")  # ... or its user was told why there is none (busy, their error, no token)
Answer = NamesReply | DetectReply | CheckReply | UserError


class Posted(BaseModel):
    """What a Slack job did (kept by RQ as its result, for inspection)."""

    ts: str | None = None  # the answer's message (for one posted through a response_url: our key for it)
    channel: str | None = None
    via: Literal["thread", "response_url", "dm", "none"] = "none"
    candidates: int = 0
    seeded: int = 0
    error: str | None = None  # what the user was told privately instead, or why nothing could be posted


class SlackReply:
    """One job's reply. Each method that calls Slack handles the error codes that have a better answer
    than failing the job; the others (and ``ratelimited`` past a short wait) fail it for rq to retry."""

    def __init__(self, job: SlackJob, job_id: str, connection: Redis, settings: Settings):
        self.request, self.to = job.request, job.reply
        self.job_id, self.connection, self.settings = job_id, connection, settings
        self.progress = ReplyProgress(connection, job_id)
        self._client: WebClient | None = None

    @property
    def client(self) -> WebClient:
        """The workspace's bot token, looked up (and rotated if need be) on first use; NoToken if none."""
        if self._client is None:
            self._client = Tokens(self.connection, self.settings).client(self.to.team, self.to.enterprise)
        return self._client

    # -- the reply ---------------------------------------------------------------------------------
    def run(self, enqueued_at: datetime | None, context: WorkerContext) -> Posted:
        return self.deliver(self.prepare(enqueued_at, context))

    def prepare(self, enqueued_at: datetime | None, context: WorkerContext) -> Answer | None:
        """The answer this reply posts: computed on the first attempt and kept, so a rerun posts the
        same; None if the request waited too long (the user is told "busy"). No Slack call here."""
        saved = self.progress.get("answer")
        if saved is not None:
            return reply_from(json.loads(saved))
        if queued_too_long(enqueued_at, self.settings.queue_ttl):
            return None
        caller = f"slack:{self.to.team}:{self.to.user}"  # whose registry budget the look-ups spend
        result = answer(
            self.request, context.models, context.arms, self.settings, context.availability, caller, context.team
        )
        self.progress.done("answer", result.model_dump_json())
        return result

    def deliver(self, result: Answer | None) -> Posted:
        """Post ``prepare``'s answer where it belongs (or tell the user why there is none); a modal that
        shows "Working on it…" (``ReplyTo.view``) then says what was done."""
        posted = self._deliver(result)
        if self.to.view:
            self._show_done(posted)
        return posted

    def _show_done(self, posted: Posted) -> None:
        """The modal's done state, once (a rerun of the job does not update it again). By view id alone:
        Slack gave the view a new hash when it applied our ack's "Working on it…", and does not say it."""
        if self.progress.get("view") is not None:
            return
        word = str(getattr(self.request, "name", "") or "")
        text = done_text(word, posted.via == "thread", posted.error)
        try:
            update_view(self.client, self.to.view or "", word_state_view(text))
        except NoToken as err:
            log.warning("team %s: no token to update view %s: %s", self._team, self.to.view, err.code)
        self.progress.done("view")

    def _deliver(self, result: Answer | None) -> Posted:
        try:
            if result is None:
                self.tell(BUSY)
                return Posted(error=BUSY)
            if isinstance(result, UserError):
                self.tell(result.error)
                return Posted(error=result.error)
            return self._publish(result)
        except NoToken as err:
            return self._lost(err.code)
        except SlackApiError as err:
            if error_code(err) in LOST_ACCESS:
                return self._lost(error_code(err))
            raise

    def _publish(self, result: NamesReply | DetectReply | CheckReply) -> Posted:
        names = result if isinstance(result, NamesReply) else None
        thread = self.to.thread_ts
        if self.to.kind == "slash":
            thread = self._step("headline", lambda: self._post(text=headline(self.request, self.to.user)))
            if thread is None:
                return self._elsewhere(result)
        seeds = 0
        if names is not None:  # decided once, before the message that says whether they were added
            wanted = min(len(names.candidates), len(KEYCAPS))
            seeds = int(self._step("seeds", lambda: str(TeamHabits(self.connection).seeds(self._team, wanted))))
        blocks, text = self._message(result, seeded=seeds > 0)
        ts = self._step("candidates", lambda: self._post(thread_ts=thread, text=text, blocks=blocks))
        if ts is None:
            return self._elsewhere(result)
        if names is None:
            return Posted(ts=ts, channel=self.to.channel, via="thread")
        self._record(names, self.to.channel, ts)
        return Posted(
            ts=ts, channel=self.to.channel, via="thread", candidates=len(names.candidates), seeded=self._seed(ts, seeds)
        )

    def _elsewhere(self, result: NamesReply | DetectReply | CheckReply) -> Posted:
        """The bot cannot post in the channel: the whole answer through the response_url, else by DM."""
        key = f"r{self.job_id}"  # Slack does not tell us the ts of a message posted to a response_url
        head = headline(self.request, self.to.user)
        names = result if isinstance(result, NamesReply) else None
        if self.to.response_url:
            blocks, text = self._message(result, seeded=False, key=key, head=head)
            sent = self._step("response_url", lambda: key if self._respond("in_channel", text, blocks) else None)
            if sent:
                if names is not None:
                    self._record(names, self.to.channel, key)
                return Posted(ts=key, channel=self.to.channel, via="response_url", candidates=_count(names))
        note = "I can't post in that conversation, so here is your answer privately."
        blocks, text = self._message(result, seeded=False, head=f"{note}\n{head}")
        where = self._step("dm", lambda: self._dm(text=text, blocks=blocks))
        if where is None:
            log.error("team %s: no way to reach user %s (channel %s)", self._team, self.to.user, self.to.channel)
            return Posted(error="unreachable")
        channel, ts = where.split("|")
        if names is not None:
            self._record(names, channel, ts)
        return Posted(ts=ts, channel=channel, via="dm", candidates=_count(names))

    def tell(self, text: str, step: str = "told") -> bool:
        """Say ``text`` to the user privately, once per ``step``: the response_url's ephemeral reply
        (slash commands), an ephemeral message (mentions), the DM itself (direct messages), else a DM."""
        if self.progress.get(step):
            return True
        text = escape(text)
        told = (
            (self.to.kind == "slash" and self._respond("ephemeral", text))
            or (self.to.kind == "mention" and self._ephemeral(text))
            or (self.to.kind == "dm" and self._post(text=text) is not None)
            or self._dm(text=text) is not None
        )
        if told:
            self.progress.done(step)
        else:
            log.error("team %s: could not tell user %s %r", self._team, self.to.user, text)
        return bool(told)

    def _lost(self, code: str) -> Posted:
        """The workspace's token does not work: the response_url needs none, so a slash command's user
        still hears why; the operator reads it in the log. Retrying would not help."""
        log.error("team %s: Slack refused our token (%s); the app must be reinstalled there", self._team, code)
        told = self.progress.get("told") or self.to.kind != "slash"
        if not told and self._respond("ephemeral", LOST.format(code=code)):
            self.progress.done("told")
        return Posted(error=code)

    # -- one Slack call each -----------------------------------------------------------------------
    def _post(self, **message) -> str | None:
        """chat.postMessage into the conversation; its ts, or None where the bot cannot post."""
        try:
            return self.client.chat_postMessage(channel=self.to.channel, **message)["ts"]
        except SlackApiError as err:
            if error_code(err) in NOT_HERE:
                log.info("team %s: cannot post in %s: %s", self._team, self.to.channel, error_code(err))
                return None
            raise

    def _dm(self, **message) -> str | None:
        """A direct message to the user (chat.postMessage to their user id): "channel|ts", or None."""
        try:
            posted = self.client.chat_postMessage(channel=self.to.user, **message)
            return f"{posted['channel']}|{posted['ts']}"
        except SlackApiError as err:
            if error_code(err) in NOT_HERE:
                log.warning("team %s: cannot DM %s: %s", self._team, self.to.user, error_code(err))
                return None
            raise

    def _ephemeral(self, text: str) -> bool:
        try:
            self.client.chat_postEphemeral(
                channel=self.to.channel, user=self.to.user, text=text, thread_ts=self.to.thread_ts
            )
            return True
        except SlackApiError as err:
            if error_code(err) in NOT_HERE:
                return False
            raise

    def _respond(self, response_type: str, text: str, blocks=None) -> bool:
        """Post to the slash command's response_url (at most 5 times, within 30 minutes of the command)."""
        if not self.to.response_url:
            return False
        try:
            response = WebhookClient(self.to.response_url, timeout=10).send(
                text=text, blocks=blocks, response_type=response_type, replace_original=False
            )
        except OSError as err:  # unreachable: tell the user another way
            log.warning("team %s: response_url unreachable: %s", self._team, err)
            return False
        if response.status_code == 200:
            return True
        log.warning("team %s: response_url answered %s %s", self._team, response.status_code, response.body)
        return False

    def _seed(self, ts: str, seeds: int) -> int:
        """Add the first ``seeds`` keycap reactions (one recorded step each); returns how many are on."""
        for i in range(int(self.progress.get("seeded") or 0), seeds):
            try:
                self.client.reactions_add(channel=self.to.channel, timestamp=ts, name=KEYCAPS[i])
            except SlackApiError as err:
                code = error_code(err)
                if code == RATE_LIMITED:
                    TeamHabits(self.connection).pause(self._team, retry_after(err))
                if code == RATE_LIMITED or code in SEED_STOP | NOT_HERE | LOST_ACCESS:
                    log.info("team %s: stopped seeding votes on %s: %s", self._team, ts, code)
                    break
                if code not in SEED_DONE:
                    raise
            self.progress.done("seeded", str(i + 1))
        return int(self.progress.get("seeded") or 0)

    # -- helpers -----------------------------------------------------------------------------------
    @property
    def _team(self) -> str:
        return self.to.team or "-"

    def _step(self, step: str, act: Callable[[], str | None]) -> str | None:
        """What ``step`` produced on an earlier attempt, else do it now and record what it produced."""
        done = self.progress.get(step)
        if done is not None:
            return done
        value = act()
        return self.progress.done(step, value) if value is not None else None

    def _message(self, result, seeded: bool, key: str | None = None, head: str | None = None):
        if isinstance(result, NamesReply):
            blocks, text = candidate_blocks(result, seeded, key, head)
            return [b.to_dict() for b in blocks], text
        text = sounds_like_text(result.answer) if isinstance(result, DetectReply) else check_text(result)
        return None, f"{head}\n{text}" if head else text

    def _record(self, names: NamesReply, channel: str, ts: str) -> None:
        if self.progress.get("impressions"):
            return
        ReplyTeams(self.connection).record(channel, ts, self.to.team or "", self.settings.retention_days * 24 * 3600)
        owner = getattr(self.request, "owner", None)  # a team corpus': kept under its private id
        rows = impressions(names, channel, ts, self.request.n, self.to.user, "slack", team=self.to.team, owner=owner)
        VoteStore(self.connection).record_impressions(rows)
        self.progress.done("impressions")


def _count(names: NamesReply | None) -> int:
    return len(names.candidates) if names is not None else 0


def reply(job: SlackJob, job_id: str, enqueued_at: datetime | None, context: WorkerContext) -> Posted:
    """Run the request, then post the reply where it belongs (or "busy" if it waited too long)."""
    return SlackReply(job, job_id, context.connection, context.settings).run(enqueued_at, context)


def reply_all(jobs: list[SlackJob], context: WorkerContext) -> list[Posted]:
    """A batch's replies: the answers one after another (the models are this thread's), then the posts
    side by side, one thread per conversation (replies in one channel in turn: Slack allows about one
    post a second there, and a burst would only earn 429s), so a batch spread over channels waits on
    Slack about as long as one reply does.
    A reply that fails does not stop the others: once every reply has done what it could, the first
    error fails the job, and rq's retry runs the batch again, each reply continuing where it stopped.

    rq's job timeout interrupts this thread only: it is raised once every poster has returned, or the
    job's rerun could post what a poster is still posting."""
    errors: list[Exception] = []
    ready: list[tuple[SlackReply, Answer | None]] = []
    for job in jobs:
        if job.id is None:
            raise ValueError("a batched Slack request has no id")
        reply_ = SlackReply(job, job.id, context.connection, context.settings)
        try:
            ready.append((reply_, reply_.prepare(job.queued_at, context)))
        except BaseTimeoutException:
            raise
        except Exception as err:
            log.exception("team %s: could not answer %s", job.reply.team, job.reply.user)
            errors.append(err)

    def deliver(prepared: tuple[SlackReply, Answer | None]) -> Posted | Exception:
        try:
            return prepared[0].deliver(prepared[1])
        except BaseTimeoutException:
            raise
        except Exception as err:
            log.warning("team %s: reply to %s failed: %r", prepared[0]._team, prepared[0].to.user, err)
            return err

    def deliver_in_turn(conversation: list[tuple[SlackReply, Answer | None]]) -> list[Posted | Exception]:
        return [deliver(prepared) for prepared in conversation]

    conversations: dict[str, list[tuple[SlackReply, Answer | None]]] = {}
    for prepared in ready:  # Slack takes about one post a second per channel: side by side they would all 429
        conversations.setdefault(prepared[0].to.channel, []).append(prepared)
    if len(conversations) <= 1:
        outcomes = deliver_in_turn(ready)
    else:
        posting = [_posters().submit(deliver_in_turn, conversation) for conversation in conversations.values()]
        try:
            outcomes = [outcome for future in posting for outcome in future.result()]
        except BaseException:
            wait(posting)
            raise
    errors += [o for o in outcomes if isinstance(o, Exception)]
    if errors:
        raise errors[0]
    return [o for o in outcomes if isinstance(o, Posted)]


@lru_cache(maxsize=1)
def _posters() -> ContextThreadPool:
    """The worker's threads that post a batch's replies (each mostly waits on Slack), logging under
    the job's request id."""
    return ContextThreadPool(max_workers=SLACK_BATCH_MAX, thread_name_prefix="slack-post")


def tell_failures(jobs: list[SlackJob], job_id: str, connection: Redis, settings: Settings, err) -> None:
    """A batch that failed for good: each user who has heard nothing yet is told, side by side (one
    user's Slack trouble does not keep the others from hearing)."""

    def tell(job: SlackJob) -> None:
        try:
            tell_failure(job, job.id or job_id, connection, settings, err)
        except Exception:
            log.exception("team %s: could not tell user %s that the job failed", job.reply.team, job.reply.user)

    wait([_posters().submit(tell, job) for job in jobs])


def tell_failure(job: SlackJob, job_id: str, connection: Redis, settings: Settings, err: BaseException | None) -> None:
    """A job that failed for good: unless its answer was delivered, the user hears so, privately."""
    reply_ = SlackReply(job, job_id, connection, settings)
    steps = reply_.progress.steps()
    if any(step in steps for step in HEARD_STEPS):
        return
    slow = isinstance(err, SlackApiError) and error_code(err) == RATE_LIMITED
    try:
        reply_.tell(SLOW_DOWN if slow else FAILED, step="told_failure")
    except (SlackApiError, NoToken) as tell_err:
        log.error("team %s: could not tell user %s that the job failed: %s", job.reply.team, job.reply.user, tell_err)


def publish_home(
    team: str | None,
    user: str,
    enterprise: str | None,
    connection: Redis,
    settings: Settings,
    marks: ShortlistMarks | None = None,
) -> dict:
    """The App Home tab for ``user``: how to use the bot, the team's shortlist (with ``marks``, its
    names' availability re-checked), its best-voted names, model standings."""
    view = home_view(
        corpus_names(),
        VoteStore(connection).top(team=team),
        standings_text("Models", ArmCounts(connection).counts("model")),
        Shortlists(connection).entries(team or "-"),
        marks=marks,
        team_corpora=TeamCorpora(connection).states(team_owner(team)) if team else {},
    )
    try:
        Tokens(connection, settings).client(team, enterprise).views_publish(user_id=user, view=view)
    except NoToken as err:
        log.error("team %s: no token to publish the Home tab: %s", team, err.code)
        return {"error": err.code}
    except SlackApiError as err:
        if error_code(err) == "not_enabled" or error_code(err) in LOST_ACCESS:
            log.warning("team %s: Home tab not published: %s", team, error_code(err))
            return {"error": error_code(err)}
        raise
    return {"published": True}


def shortlist_marks(team: str | None, connection: Redis, availability: AvailabilityChecker | None) -> ShortlistMarks:
    """The team's shortlisted names re-checked on PyPI and npm (the Home tab opened: a name may have been
    taken since it was shortlisted): through the availability cache, within one request's allowance of
    registry calls and time (``TNAAS_AVAILABILITY_REQUEST_CALLS``, ``TNAAS_AVAILABILITY_TIMEOUT``), at
    most ``SHORTLIST_MAX`` names. Empty when there is nothing to check or no checker."""
    entries = Shortlists(connection).entries(team or "-")[:SHORTLIST_MAX]
    if availability is None or not entries:
        return {}
    names = list(dict.fromkeys(e.name for e in entries))
    checked = availability.check(names, REGISTRIES, availability.allowance(f"slack:{team or '-'}:home"))
    by_name = {
        name: {r: MarkOut(verdict=m.verdict.value, reason=m.reason, source=m.source) for r, m in marks.items()}
        for name, marks in zip(names, checked)
    }
    return {(e.name, e.corpus): by_name[e.name] for e in entries}


def shortlist_csv(entries: list[ShortlistEntry]) -> str:
    """The shortlist as CSV (name, corpus, added_by, added_at in UTC ISO 8601), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "corpus", "added_by", "added_at"])
    for e in entries:
        writer.writerow([e.name, e.corpus, e.user, datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds")])
    return out.getvalue()


def export_shortlist(
    team: str | None, user: str, enterprise: str | None, connection: Redis, settings: Settings
) -> dict:
    """Send the team's shortlist to ``user`` as a CSV file in their direct message with the bot: a short
    message first (its answer names the DM's channel, so no ``im:write`` scope is needed), then the file
    (``files_upload_v2``). A lost token or missing scope is logged and told, not retried."""
    entries = Shortlists(connection).entries(team or "-")
    try:
        client = Tokens(connection, settings).client(team, enterprise)
        if not entries:
            client.chat_postMessage(channel=user, text=shortlist_text(entries))
            return {"exported": 0}
        posted = client.chat_postMessage(
            channel=user, text=f"Your team's shortlist ({len(entries)} names), as a CSV file:"
        )
        client.files_upload_v2(
            channel=posted["channel"],
            thread_ts=posted["ts"],
            content=shortlist_csv(entries),
            filename="shortlist.csv",
            title="TNaaS shortlist",
        )
    except NoToken as err:
        log.error("team %s: no token to export the shortlist: %s", team, err.code)
        return {"error": err.code}
    except SlackApiError as err:
        if error_code(err) in LOST_ACCESS or error_code(err) in NOT_HERE:
            log.warning("team %s: the shortlist was not exported to %s: %s", team, user, error_code(err))
            return {"error": error_code(err)}
        raise
    return {"exported": len(entries)}


def tell_corpus_report(
    team: str, enterprise: str | None, user: str, slug: str, connection: Redis, settings: Settings
) -> dict:
    """The report of a team corpus' training (or why it failed) to ``user`` by direct message. A corpus
    deleted meanwhile says nothing; a lost token or a DM Slack refuses is logged, not retried."""
    state = TeamCorpora(connection).states(team_owner(team)).get(slug)
    if state is None:
        return {"told": False, "why": "deleted"}
    told = tell_user(team, enterprise, user, corpus_report_text(slug, state), connection, settings)
    return told | ({"status": state.get("status")} if told["told"] else {})


def tell_user(team: str, enterprise: str | None, user: str, text: str, connection: Redis, settings: Settings) -> dict:
    """``text`` to ``user`` by direct message; a lost token or a DM Slack refuses is logged, not retried."""
    try:
        Tokens(connection, settings).client(team, enterprise).chat_postMessage(channel=user, text=text)
    except NoToken as err:
        log.error("team %s: no token to tell %s something: %s", team, user, err.code)
        return {"told": False, "why": err.code}
    except SlackApiError as err:
        if error_code(err) in LOST_ACCESS or error_code(err) in NOT_HERE:
            log.warning("team %s: a direct message did not reach %s: %s", team, user, error_code(err))
            return {"told": False, "why": error_code(err)}
        raise
    return {"told": True}
