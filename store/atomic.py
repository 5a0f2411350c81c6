"""Commands built elsewhere (mostly by rq, into an unsent pipeline) sent as one atomic script.

MULTI/EXEC answers every command twice ("QUEUED", then its result in EXEC's array) and redis-py
parses each answer in Python (on asyncio, each with its own timeout): for rq's dozen-command
transactions that parsing cost more than Redis' work. The same commands run by this script are as
atomic (Redis runs a script whole, nothing in between) and come back as one reply holding only the
results the caller asked for. Arguments travel as they are (binary-safe: rq's job data is pickled).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# ARGV[1]: the 1-based positions of the commands whose results are wanted, comma-separated;
# then each command as its argument count followed by its arguments.
RUN = """
local wanted, out = {}, {}
for position in string.gmatch(ARGV[1], '%d+') do wanted[tonumber(position)] = true end
local i, k = 2, 0
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  k = k + 1
  local reply = redis.call(unpack(ARGV, i + 1, i + n))
  if wanted[k] then out[#out + 1] = reply end
  i = i + n + 1
end
return out
"""


def script_args(commands: Sequence[Sequence], wanted: Iterable[int]) -> list:
    """The script's ARGV; ``wanted``: 0-based positions in ``commands``, negative from the end."""
    positions = sorted({(w % len(commands)) + 1 for w in wanted}) if commands else []
    args: list = [",".join(map(str, positions))]
    for command in commands:
        args += [len(command), *command]
    return args


def unsent(pipe) -> list[tuple]:
    """The commands waiting in a redis-py pipeline (sync or asyncio), without their options."""
    return [tuple(args) for args, _ in pipe.command_stack]


def run(connection, commands: Sequence[Sequence], wanted: Iterable[int] = ()) -> list:
    """Run ``commands`` atomically in one round trip; the results at the ``wanted`` positions, in order
    (a missing value is None). Raises the first command error, as a script does (commands before it stay done)."""
    if not commands:
        return []
    return connection.register_script(RUN)(args=script_args(commands, wanted))


async def run_async(connection, commands: Sequence[Sequence], wanted: Iterable[int] = ()) -> list:
    """``run`` on a ``redis.asyncio`` connection."""
    if not commands:
        return []
    return await connection.register_script(RUN)(args=script_args(commands, wanted))
