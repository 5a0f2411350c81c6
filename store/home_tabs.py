"""App Home tabs waiting to be published: one job per person at a time.

Each opening of the Home tab asks for a publish (a job: a Slack call). While one is queued for that person,
further openings add none: the queued one reads the best-voted names when it runs, so it publishes what
is current anyway. The mark is taken off when the job starts, so an opening after that is published again.
"""

from __future__ import annotations

from redis import Redis

from core.limits import HOME_PENDING


class HomeTabs:
    PENDING_KEY = "tnaas:home:{team}:{user}"  # a publish is queued for this person

    def __init__(self, connection: Redis):
        self.redis = connection

    def ask(self, team: str | None, user: str) -> bool:
        """True for the opening that should queue a publish; False while one is already queued."""
        return bool(self.redis.set(self.PENDING_KEY.format(team=team or "-", user=user), 1, nx=True, ex=HOME_PENDING))

    def started(self, team: str | None, user: str) -> None:
        """The queued publish runs now (or could not be queued): the next opening asks again."""
        self.redis.delete(self.PENDING_KEY.format(team=team or "-", user=user))
