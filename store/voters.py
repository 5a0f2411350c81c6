"""Page voter ids, minted per address in batches, so that votes count people rather than cookies.

The page hands each new visitor a signed voter id (``bot.api.voters``); a script can ask for thousands.
Ids minted for one address within one ``VOTER_WINDOW`` form a batch. A person's browser asks once; an
office behind one address asks once per person, spread over hours. So a batch of at most
``VOTER_BURST`` ids counts as that many people, and a larger one was minted in bulk: every id in it,
the first ones too, counts as one identity, the address (as a page without a voter id does). Votes cast
by a batch's ids while it is still open are noted, and counted again under the address if the batch
turns out bulk; once the window has passed a batch cannot grow, and its verdict stands. An address is
minted at most ``VOTER_IDS_PER_DAY`` ids a day; past that its page comes without one.
"""

from __future__ import annotations

from redis import Redis

from core.limits import BULK_BATCHES_KEPT, VOTER_BURST, VOTER_COOKIE_MAX_AGE, VOTER_IDS_PER_DAY, VOTER_WINDOW
from store.votes import SHIFT, VoterBatch, VoteStore

DAY = 24 * 3600

# ARGV: the vote store's prefixes, the day's counter, the batch's counter, the batch's id, its vote list, its
# bulk identity, the bulk set, when a bulk verdict expires, then the limits (a day, a burst, bulk batches kept)
# and the window's life. Returns the id's number in its batch, 0 when the address had its day's ids.
ISSUE = (
    SHIFT
    + r"""
local today = redis.call('INCR', ARGV[2])
if today == 1 then redis.call('EXPIRE', ARGV[2], 2 * 86400) end
if today > tonumber(ARGV[9]) then return 0 end
local issued = redis.call('INCR', ARGV[3])
if issued == 1 then redis.call('EXPIRE', ARGV[3], ARGV[12]) end
if issued == tonumber(ARGV[10]) + 1 then
  redis.call('ZADD', ARGV[7], ARGV[8], ARGV[4])
  local over = redis.call('ZCARD', ARGV[7]) - tonumber(ARGV[11])
  if over > 0 then redis.call('ZREMRANGEBYRANK', ARGV[7], 0, over - 1) end
  local bulk = ARGV[6]
  for _, noted in ipairs(redis.call('SMEMBERS', ARGV[5])) do
    local channel, ts, field = string.match(noted, '^(%S+) (%S+) (%S+)$')
    local votes = P.votes .. channel .. ':' .. ts
    local stored = redis.call('HGET', votes, field)
    local index, voter, direction = string.match(field, '^(%d+):(.*):(%-?%d+)$')
    local identity = identity_of(stored, voter)
    if stored and identity ~= bulk then
      redis.call('HSET', votes, field, string.match(stored, '^%S+') .. ' ' .. bulk)
      shift(channel, ts, index, identity, direction, -1, true)
      shift(channel, ts, index, bulk, direction, 1, true)
    end
  end
  redis.call('DEL', ARGV[5])
end
return issued
"""
)


class VoterBatches:
    COUNT_KEY = "tnaas:voters:{batch}"  # ids minted in a batch (while it is open)
    DAY_KEY = "tnaas:voters:day:{tag}:{day}"  # ids minted for an address that day
    VOTES_KEY = "tnaas:voters-votes:{batch}"  # "channel ts vote-field" of the votes its ids cast while open
    BULK_KEY = "tnaas:voters-bulk"  # sorted set: bulk batches, by when their cookies have all expired

    def __init__(self, connection: Redis):
        self.redis = connection
        self._issue = connection.register_script(ISSUE)

    @staticmethod
    def window(now: float) -> int:
        return int(now // VOTER_WINDOW)

    def issue(self, tag: str, now: float) -> int:
        """Count a voter id minted now for the address ``tag``: its number in its batch (1, 2, ...), or 0
        when the address has had its ids for the day (mint none). The id that makes the batch bulk
        counts every vote the batch's ids cast so far under the address instead."""
        window = self.window(now)
        batch = f"{tag}:{window}"
        args = [
            VoteStore.prefixes(),
            self.DAY_KEY.format(tag=tag, day=int(now // DAY)),
            self.COUNT_KEY.format(batch=batch),
            batch,
            self.VOTES_KEY.format(batch=batch),
            bulk_identity(tag),
            self.BULK_KEY,
            int(now) + VOTER_COOKIE_MAX_AGE,
            VOTER_IDS_PER_DAY,
            VOTER_BURST,
            BULK_BATCHES_KEPT,
            2 * VOTER_WINDOW,
        ]
        return int(self._issue(keys=[], args=args))

    def batch(self, tag: str, window: int, now: float) -> VoterBatch:
        """The batch of an id minted for ``tag`` in ``window``, as a vote cast ``now`` sees it."""
        batch = f"{tag}:{window}"
        closes = (window + 1) * VOTER_WINDOW
        open_ = now < closes
        return VoterBatch(
            id=batch,
            bulk_identity=bulk_identity(tag),
            bulk_key=self.BULK_KEY,
            votes_key=self.VOTES_KEY.format(batch=batch) if open_ else "",
            open_for=int(closes - now) + VOTER_WINDOW if open_ else 0,
        )

    def is_bulk(self, tag: str, window: int) -> bool:
        return self.redis.zscore(self.BULK_KEY, f"{tag}:{window}") is not None

    def purge(self, now: float) -> int:
        """Forget bulk batches whose cookies have all expired; how many."""
        return int(self.redis.zremrangebyscore(self.BULK_KEY, "-inf", now))


def bulk_identity(tag: str) -> str:
    """Whom an address's votes count as when they come without a voter id, or with one minted in bulk."""
    return f"addr-{tag}"
