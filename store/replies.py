"""What a Slack reply has already done, step by step, so that a rerun of its job continues where the
first attempt stopped instead of posting again.

A job can run more than once: its worker dies mid-reply and rq's abandoned-job sweep reruns it, or a
Slack error fails it and rq retries it. Each step (the answer computed, the headline posted, the
candidates posted, the impressions recorded, each reaction seeded) is recorded here right after it
happens and before the next one starts; a rerun skips every recorded step. A record that cannot be
written because Redis is failing over is tried again until the new primary has it. The one window
left is between Slack accepting a post and the record being written (a process killed in that
millisecond).
"""

from __future__ import annotations

from redis import Redis

from store.connection import acknowledged, recorded


class ReplyProgress:
    PREFIX = "tnaas:reply:"
    TTL = 24 * 3600  # far longer than any retry or abandoned-job sweep of the job

    def __init__(self, connection: Redis, job_id: str):
        self.redis = connection
        self.key = f"{self.PREFIX}{job_id}"

    def get(self, step: str) -> str | None:
        value = self.redis.hget(self.key, step)
        return value.decode() if value is not None else None

    def steps(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.key).items()}

    def done(self, step: str, value: str = "1") -> str:
        """Record a step (and what it produced, e.g. the posted message's ts); under Sentinel, once a
        replica has it, so a rerun after a failover does not post it again. The step is done already:
        while Redis is unreachable (a failover under way) the record is tried again, within a bound."""
        recorded(self.redis, lambda pipe: pipe.hset(self.key, step, value).expire(self.key, self.TTL))
        return value

    def claim(self, step: str, value: str = "1") -> bool:
        """Record a step only if it is not recorded yet: True for the one caller that should act."""
        claimed, _ = acknowledged(
            self.redis, lambda pipe: pipe.hsetnx(self.key, step, value).expire(self.key, self.TTL)
        )
        return bool(claimed)


class ReplyTeams:
    """The workspace of each candidate message the bot posted, recorded as it is posted. A vote button's
    click names its channel and message itself: it counts only on a message this record gives to the
    clicker's own workspace, so no click votes on a web answer or on another workspace's reply."""

    KEY = "tnaas:reply-team:{channel}:{ts}"

    def __init__(self, connection: Redis):
        self.redis = connection

    def record(self, channel: str, ts: str, team: str, seconds: int) -> None:
        """``seconds``: as long as the message's votes are kept."""
        self.redis.set(self.KEY.format(channel=channel, ts=ts), team, ex=max(1, seconds))

    def team_of(self, channel: str, ts: str) -> str | None:
        value = self.redis.get(self.KEY.format(channel=channel, ts=ts))
        return value.decode() if value is not None else None
