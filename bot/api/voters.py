"""Who is voting: an id the caller cannot choose.

The page gets a signed cookie (``tnaas_voter``: a random id and its HMAC) the first time it loads;
its votes count under that id. A caller with the API token (an integration that vouches for its
own users) may name its voters. Anyone else votes as their address. So inventing a hundred voter
ids from one address is one voter, and each voter and each address is rate limited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from redis import Redis

from store.signing import SigningKeys

COOKIE = "tnaas_voter"
COOKIE_MAX_AGE = 365 * 24 * 3600


class VoterCookies:
    """Issue and verify ``<id>.<signature>`` cookie values."""

    def __init__(self, key: bytes):
        self.key = key

    def _sign(self, voter: str) -> str:
        return hmac.new(self.key, voter.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> str:
        voter = secrets.token_hex(12)
        return f"{voter}.{self._sign(voter)}"

    def verify(self, value: str | None) -> str | None:
        """The voter id in a genuine cookie value, else None."""
        voter, _, signature = (value or "").partition(".")
        if not voter or not hmac.compare_digest(signature.encode(), self._sign(voter).encode()):
            return None
        return voter


def signing_key(secret: str | None, connection: Redis) -> bytes:
    """TNAAS_SECRET_KEY, else the stack's own random key (created once in Redis, shared by every web process)."""
    return secret.encode() if secret else SigningKeys(connection).get_or_create("voter-cookie")


def voter_for(cookie_voter: str | None, named: str | None, authenticated: bool, address: str) -> str:
    """The id a vote counts under: the page's signed cookie, else the voter an API-token holder
    names, else the caller's address."""
    if cookie_voter:
        return f"web-{cookie_voter}"
    if authenticated and named:
        return f"api-{named}"
    return f"addr-{address}"
