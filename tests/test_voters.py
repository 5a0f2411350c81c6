"""Votes count people, not cookies: page voter ids minted in bulk for one address count as that address,
on the real web process and store, for /top, a name's tally and the export the reranker learns from;
an office of people behind one address, each with a voter id minted over the day, counts them all."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from redis import Redis

from bot.api.voters import CookieVoter, VoterCookies, voter_for
from core.limits import VOTER_BURST, VOTER_IDS_PER_DAY, VOTER_WINDOW
from core.settings import Settings
from jobs.upkeep import retrain_reason
from models.registry import ModelRegistry
from models.training import train_reranker
from store.voters import VoterBatches
from store.votes import WEB_CHANNEL, Impression, VoteStore
from testkit.processes import http, start_web, stop_process, tnaas_env
from tnaas.redis_server import EmbeddedRedis

STUFFED, LIKED = "0123456789abcdef", "fedcba9876543210"  # two answers, as the page shows them


def shown(ts: str, names: list[str], channel: str = WEB_CHANNEL, at: float = 1.0e9) -> list[Impression]:
    return [
        Impression(
            channel=channel, ts=ts, index=i, name=n, corpus="pokemon", model="kn3", model_version="v",
            log_prob=-10.0 - i, believability=0.5 + i / 100, surface="web", shown_at=at,
        )
        for i, n in enumerate(names, 1)
    ]  # fmt: skip


@pytest.fixture
def connection(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield Redis.from_url(server.url)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """`tnaas web` behind a proxy it trusts (127.0.0.1), so each test's X-Forwarded-For is a client address."""
    path = tmp_path_factory.mktemp("voters")
    with EmbeddedRedis(path / "redis") as server:
        connection = Redis.from_url(server.url)
        env = tnaas_env(path / "artifacts", REDIS_URL=server.url, TNAAS_VOTE_RATE=1000)
        process, base = start_web(env | {"TNAAS_FORWARDED_ALLOW_IPS": "127.0.0.1"})
        try:
            yield base, connection
        finally:
            stop_process(process)


def visit(base: str, address: str) -> tuple[int, str | None]:
    """(status, the voter cookie set, if any) of one page visit from ``address``."""
    status, head, _ = http("GET", f"{base}/", headers={"X-Forwarded-For": address})
    cookie = head["Set-Cookie"]
    return status, cookie.split(";", 1)[0] if cookie else None


def vote(base: str, address: str, cookie: str | None, answer: str) -> dict:
    headers = {"X-Forwarded-For": address} | ({"Cookie": cookie} if cookie else {})
    status, _, tally = http("POST", f"{base}/api/v1/votes", {"answer_id": answer, "index": 1}, headers=headers)
    assert status == 200, tally
    return tally


def test_sixty_visits_and_votes_from_one_address_move_top_as_one_person_does(web):
    base, connection = web
    store = VoteStore(connection)
    store.record_impressions(shown(STUFFED, ["zapster"]))
    store.record_impressions(shown(LIKED, ["quokka"]))
    visits = [visit(base, "10.0.0.66") for _ in range(60)]
    assert all(status == 200 for status, _ in visits)  # the page works past the limit ...
    cookies = [cookie for _, cookie in visits]
    assert len([c for c in cookies if c]) == VOTER_IDS_PER_DAY  # ... without a new voter id
    tallies = [vote(base, "10.0.0.66", cookie, STUFFED) for cookie in cookies]
    assert tallies[-1]["up"] == 1  # sixty cookies and votes: one person for
    person = visit(base, "10.0.0.7")[1]
    assert vote(base, "10.0.0.7", person, LIKED)["up"] == 1
    top = http("GET", f"{base}/api/v1/top")[2]
    assert top == [
        {"name": "quokka", "corpus": "pokemon", "votes": 1},
        {"name": "zapster", "corpus": "pokemon", "votes": 1},
    ]
    assert [(r["name"], r["up"]) for r in store.export()] == [("zapster", 1), ("quokka", 1)]


def test_top_is_rate_limited_per_address(web):
    base, _ = web
    limit = Settings(_env_file=None).user_rate
    statuses = [http("GET", f"{base}/api/v1/top", headers={"X-Forwarded-For": "10.0.9.1"})[0] for _ in range(limit + 1)]
    assert statuses == [200] * limit + [429]
    status, head, body = http("GET", f"{base}/api/v1/top", headers={"X-Forwarded-For": "10.0.9.1"})
    assert status == 429 and "Easy there" in body["error"] and int(head["Retry-After"]) <= 60
    assert http("GET", f"{base}/api/v1/top", headers={"X-Forwarded-For": "10.0.9.2"})[0] == 200  # another address


# -- the rule, on the store ----------------------------------------------------------------------------
def minted(connection: Redis, cookies: VoterCookies, address: str, at: float) -> CookieVoter | None:
    """A voter id minted as the page mints it (``bot.web``), or None when the address had its day's."""
    tag = cookies.address_tag(address)
    if not VoterBatches(connection).issue(tag, at):
        return None
    return cookies.verify(cookies.issue(VoterBatches.window(at), tag))


def cast(store: VoteStore, cookies: VoterCookies, cookie: CookieVoter | None, address: str, ts: str, at: float):
    voter = voter_for(cookie, None, False, cookies.address_tag(address), VoterBatches(store.redis), at)
    store.vote(WEB_CHANNEL, ts, 1, voter.id, 1, batch=voter.batch)


def test_votes_cast_before_a_batch_turns_out_bulk_are_counted_again_as_one(connection):
    """Mint one, vote, mint the next, vote: the first ids counted as people until the batch grew past
    VOTER_BURST within its minute; then every vote it cast counts as the address, once."""
    store, cookies = VoteStore(connection), VoterCookies(b"key")
    store.record_impressions(shown(STUFFED, ["zapster", "pikablu"]))
    start = (time.time() // VOTER_WINDOW) * VOTER_WINDOW
    ups = []
    for i in range(VOTER_BURST + 3):
        at = start + i * VOTER_WINDOW / 20
        cast(store, cookies, minted(connection, cookies, "10.0.0.66", at), "10.0.0.66", STUFFED, at)
        ups.append(store.tally(WEB_CHANNEL, STUFFED)[1]["up"])
    assert ups == list(range(1, VOTER_BURST + 1)) + [1, 1, 1]
    assert store.top() == [("zapster", "pokemon", 1)] and store.arms.counts("model") == {"kn3": (1, 2)}
    changes = store.unseen_changes()
    cast(store, cookies, None, "10.0.0.66", STUFFED, start + 1)  # the address without a cookie: the same person
    assert store.tally(WEB_CHANNEL, STUFFED)[1]["up"] == 1
    assert store.unseen_changes() == changes  # nothing new for the learner to read
    later = start + 2 * VOTER_WINDOW  # a batch that has closed cannot turn bulk: its people stay people
    for i in range(VOTER_BURST):
        cast(store, cookies, minted(connection, cookies, "10.0.0.66", later + i), "10.0.0.66", STUFFED, later + i)
    assert store.tally(WEB_CHANNEL, STUFFED)[1]["up"] == 1 + VOTER_BURST


def test_an_office_behind_one_address_counts_each_person(connection):
    """Twenty people behind one address, each minted a voter id when they first open the page: a few
    together after a link is posted (up to VOTER_BURST within a minute), the rest over the day."""
    store, cookies = VoteStore(connection), VoterCookies(b"key")
    store.record_impressions(shown(LIKED, ["quokka"]))
    morning = (time.time() // 86400) * 86400 + 9 * 3600
    opened = [morning + i for i in range(VOTER_BURST)] + [morning + 1800 * k for k in range(1, 21 - VOTER_BURST)]
    people = [minted(connection, cookies, "192.0.2.10", at) for at in opened]
    assert len(people) == 20 and all(people)
    for person, at in zip(people, opened):
        cast(store, cookies, person, "192.0.2.10", LIKED, at + 60)
    assert store.tally(WEB_CHANNEL, LIKED) == {1: {"up": 20, "down": 0}}
    assert store.top() == [("quokka", "pokemon", 20)]


def test_the_reranker_learns_from_stuffed_votes_what_one_persons_vote_teaches(connection, tmp_path):
    """The same team votes on four answers; on the last, sixty ids minted in bulk vote in one store and
    one person in the other: the exports the reranker trains on are the same, and so is the reranker."""
    trained = []
    for stuffing in (True, False):
        connection.flushdb()
        store, cookies = VoteStore(connection), VoterCookies(b"key")
        for m in range(4):
            store.record_impressions(shown(f"{m:016x}", [f"name{m}{i}" for i in range(5)], at=float(m)))
        for m in range(3):
            for i, user in ((1, "U1"), (m + 2, "U2")):
                store.vote(WEB_CHANNEL, f"{m:016x}", i, user, 1)
        start = (time.time() // VOTER_WINDOW) * VOTER_WINDOW
        if stuffing:
            for i in range(60):
                voter = minted(connection, cookies, "10.0.0.66", start + i / 10)
                cast(store, cookies, voter, "10.0.0.66", f"{3:016x}", start + i / 10)
        else:
            cast(store, cookies, minted(connection, cookies, "10.0.0.7", start), "10.0.0.7", f"{3:016x}", start)
        rows = list(store.export())
        info, _ = train_reranker(ModelRegistry(tmp_path / str(stuffing)), rows)
        due = retrain_reason(rows, None, Settings(_env_file=None))
        trained.append(([(r["name"], r["up"], r["down"]) for r in rows], info.corpus_hash, info.metrics["rows"], due))
    assert trained[0] == trained[1]


def test_a_cookie_minted_before_ids_named_their_batch_still_counts_on_its_own():
    cookies, old = VoterCookies(b"key"), "0123456789abcdef01234567"
    signature = hmac.new(b"key", old.encode(), hashlib.sha256).hexdigest()[:32]  # how cookies were signed before
    assert cookies.verify(f"{old}.{signature}") == CookieVoter(old)
    assert cookies.verify(f"{old}-1-tag.{signature}") is None  # the batch is signed with the id
