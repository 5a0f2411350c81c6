"""Who is voting: an id the caller cannot choose, and how much it counts.

The page gets a signed cookie (``tnaas_voter``) the first time it loads: a random id, the minute it
was minted and a tag of the address it was minted for (an HMAC: the address itself is not kept), and
their HMAC. Its votes count under that id, unless its address was minted ids in bulk
(``store.voters``): then they count as the address. A caller with the API token (an integration that
vouches for its own users) may name its voters. Anyone else votes as their address. So inventing a
hundred voter ids from one address is one voter, and each voter and each address is rate limited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NamedTuple

from redis import Redis

from store.signing import SigningKeys
from store.voters import VoterBatches, bulk_identity
from store.votes import VoterBatch

COOKIE = "tnaas_voter"


class CookieVoter(NamedTuple):
    """A genuine cookie's voter: the id its votes are kept under, and when and for whom it was minted."""

    id: str
    window: int | None = None  # None: a cookie minted before ids named their batch (it counts on its own)
    tag: str | None = None


class Voter(NamedTuple):
    """Whose vote it is (``id``: one vote per id and candidate) and the batch that decides whom it counts as."""

    id: str
    batch: VoterBatch | None = None


class VoterCookies:
    """Issue and verify ``<random>-<window>-<address tag>.<signature>`` cookie values."""

    def __init__(self, key: bytes):
        self.key = key

    def _sign(self, voter: str) -> str:
        return hmac.new(self.key, voter.encode(), hashlib.sha256).hexdigest()[:32]

    def address_tag(self, address: str) -> str:
        """The address as the store knows it: the same for every web process, meaningless without the key."""
        return hmac.new(self.key, f"address:{address}".encode(), hashlib.sha256).hexdigest()[:16]

    def issue(self, window: int, tag: str) -> str:
        voter = f"{secrets.token_hex(12)}-{window}-{tag}"
        return f"{voter}.{self._sign(voter)}"

    def verify(self, value: str | None) -> CookieVoter | None:
        """The voter in a genuine cookie value, else None."""
        voter, _, signature = (value or "").partition(".")
        if not voter or not hmac.compare_digest(signature.encode(), self._sign(voter).encode()):
            return None
        random, _, batch = voter.partition("-")
        window, _, tag = batch.partition("-")
        return CookieVoter(voter, int(window), tag) if window.isdigit() and tag else CookieVoter(random)


def signing_key(secret: str | None, connection: Redis) -> bytes:
    """TNAAS_SECRET_KEY, else the stack's own random key (created once in Redis, shared by every web process)."""
    return secret.encode() if secret else SigningKeys(connection).get_or_create("voter-cookie")


def voter_for(
    cookie: CookieVoter | None,
    named: str | None,
    authenticated: bool,
    address_tag: str,
    batches: VoterBatches,
    now: float,
) -> Voter:
    """The voter a vote is kept under: the page's signed cookie (with its batch), else the voter an
    API-token holder names, else the caller's address."""
    if cookie is not None:
        batch = batches.batch(cookie.tag, cookie.window, now) if cookie.window is not None else None
        return Voter(f"web-{cookie.id}", batch)
    if authenticated and named:
        return Voter(f"api-{named}")
    return Voter(bulk_identity(address_tag))
