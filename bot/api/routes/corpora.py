"""Corpora: the built-in ones, and a caller's own (added, polled while they train, deleted).

A caller's own corpus is its alone: listed, answered from and deleted only by the identity that added
it (the page's voter, the API token's holder, else the address: ``deps.corpus_owner``); anyone else
is told there is no such corpus. The operator's (``tnaas corpus add``) are listed for everyone.
"""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from rq.exceptions import NoSuchJobError
from rq.job import Job
from starlette.concurrency import run_in_threadpool

from bot.api.deps import AskerDep, OwnerDep, RedisDep, SettingsDep
from bot.api.errors import Conflict, NotFound, errors
from bot.api.schemas import CorpusDeleted, CorpusIn, CorpusOut, TeamCorpusOut
from core.artifacts import trained_name_models
from core.errors import BadCorpusList, shown
from core.model_names import default_models
from core.settings import Settings
from corpora import judge_corpus_names, manifest
from corpora.team import check_names, check_room, check_slug
from jobs.queueing import corpus_lock_seconds, enqueue_corpus_training
from store.rate_limit import RateLimits, web_counters
from store.team_corpora import NO_ROOM, OPERATOR, TeamCorpora, corpus_id, owner_key
from store.votes import VoteStore

router = APIRouter(tags=["corpora"])
LOOK_EVERY = 0.1  # seconds between looks at a training job while the API waits for it


def team_corpus_out(name: str, owner: str, state: dict) -> TeamCorpusOut:
    return TeamCorpusOut(
        name=name,
        status=state.get("status", "training"),
        training=state.get("training", False),
        shared=owner == OPERATOR,
        version=state.get("version"),
        report=state.get("report"),
        error=state.get("error"),
        poll=f"/api/v1/corpora/{name}",
    )


@router.get("/corpora", response_model=list[CorpusOut])
def corpora(settings: SettingsDep, redis: RedisDep, owner: OwnerDep) -> list[CorpusOut]:
    """Every built-in corpus with the models trained for it, then yours and the operator's added ones."""
    trained = trained_name_models(settings.artifacts_dir)
    order = {m: i for i, m in enumerate(default_models())}
    builtin = [
        CorpusOut(
            name=name,
            names=meta["count"],
            source=meta["source"],
            license=meta["license"],
            models=sorted(trained.get(name, []), key=lambda m: (order.get(m, 99), m)),
        )
        for name, meta in manifest().items()
    ]
    own = [
        CorpusOut(
            name=name,
            names=(state.get("report") or {}).get("names", state.get("uploaded", 0)),
            source="the operator's list" if by == OPERATOR else "your list",
            license="",
            models=[state["report"]["model"]] if state.get("report") else [],
            team=True,
            status=state.get("status", "training"),
        )
        for name, (by, state) in TeamCorpora(redis).visible(owner).items()
    ]
    return builtin + own


@router.post(
    "/corpora",
    response_model=TeamCorpusOut,
    responses={202: {"model": TeamCorpusOut, "description": "Still training: GET its `poll` URL."}}
    | errors(400, 409, 413, 429, 503),
)
async def add_corpus(body: CorpusIn, redis: RedisDep, settings: SettingsDep, asker: AskerDep) -> JSONResponse:
    """Add (or replace) your own corpus from a list of names: checked at once (a 400 says what is wrong,
    and nothing is kept), then trained by a worker. Answers 200 with the training report when it is
    done within TNAAS_API_WAIT seconds, else 202: poll the corpus. Counts against your rate limit."""
    await RateLimits(asker.aredis).check_async(
        web_counters("user", asker.caller, asker.address, settings.user_rate, settings.address_people)
    )
    owner = owner_key(asker.caller)  # as ``deps.corpus_owner`` has it, the caller looked up once
    slug = check_slug(body.name, judge_corpus_names())
    checked = check_names(body.names)
    store = TeamCorpora(redis)
    check_room(await run_in_threadpool(store.slugs, owner), slug)
    if await run_in_threadpool(store.stored_bytes) >= settings.team_corpora_mb * 1_048_576:
        raise BadCorpusList(NO_ROOM)
    job_id = await run_in_threadpool(_start, redis, store, owner, slug, checked, settings)
    state = await run_in_threadpool(_wait, redis, store, owner, slug, job_id, settings)
    out = team_corpus_out(slug, owner, state)
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if not out.training else 202)


def _start(redis, store: TeamCorpora, owner: str, slug: str, checked, settings: Settings) -> str:
    job_id = uuid.uuid4().hex  # known before the job is queued: the corpus is marked training under it first
    about = {"dropped": checked.dropped, "notes": checked.notes}
    if not store.begin(owner, slug, checked.names, job_id, corpus_lock_seconds(settings), about):
        raise Conflict(
            f"The corpus {slug} is being trained from another upload right now: wait for it, then send yours."
        )
    try:
        enqueue_corpus_training(redis, owner, slug, job_id, settings)
    except BaseException:
        store.abort(owner, slug, job_id)  # nothing queued: as if never sent
        raise
    return job_id


def _wait(redis, store: TeamCorpora, owner: str, slug: str, job_id: str, settings: Settings) -> dict:
    """The corpus' state once its job is done, or as it is after TNAAS_API_WAIT seconds."""
    deadline = time.monotonic() + settings.api_wait
    while True:
        state = store.states(owner).get(slug, {})
        if not state.get("training") or time.monotonic() >= deadline:
            return state
        try:
            if Job.fetch(job_id, connection=redis).is_failed:
                return store.states(owner).get(slug, {})
        except NoSuchJobError:
            pass
        time.sleep(LOOK_EVERY)


@router.get("/corpora/{name}", response_model=TeamCorpusOut, responses=errors(404))
def corpus(name: str, redis: RedisDep, owner: OwnerDep) -> TeamCorpusOut:
    """One of your corpora (or the operator's): training, ready with its report, or failed."""
    found = TeamCorpora(redis).visible(owner).get(name.strip().lower())
    if found is None:
        raise NotFound(f"You have no corpus called '{shown(name)}'.")
    return team_corpus_out(name.strip().lower(), *found)


@router.delete("/corpora/{name}", response_model=CorpusDeleted, responses=errors(404))
def delete_corpus(name: str, redis: RedisDep, owner: OwnerDep) -> CorpusDeleted:
    """Delete your corpus: its list, its trained models, and every name shown from it with its votes."""
    slug = name.strip().lower()
    if not TeamCorpora(redis).delete(owner, slug):
        raise NotFound(f"You have no corpus called '{shown(name)}' to delete.")
    return CorpusDeleted(name=slug, impressions=VoteStore(redis).forget_corpus(corpus_id(owner, slug)))
