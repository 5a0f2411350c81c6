"""Every fixed limit, defined once. The grammar, the API, the job contracts, the CLI and the models
read them from here; limits an operator may tune (names per request, rates, queue length) are
settings (``core.settings``)."""

from __future__ import annotations

MAX_NAME_LEN = 32  # the longest name a model makes, scores or completes: the length prior's support
MAX_PATTERN_LEN = MAX_NAME_LEN  # a pattern is a name with unknown letters
# unknown letters from which a completion may take a worker a second or more (5-grams of a large corpus:
# measured 0.3-1.3 s at 8, up to the budget's refusal beyond): such requests take the heavy lane
HEAVY_WILDCARDS = 8
MAX_TEXT_LEN = 2000  # text anyone may send (`is ...`, `lang ...`, a slash command): a few thousand characters at most
EVIDENCE_LEN = 1000  # what the classifiers read of a longer text: plenty for a language decision
MAX_CORPUS_NAME_LEN = 64  # a corpus or model name in a request; longer is a mistake
MAX_MODEL_NAME_LEN = 32
MAX_CLIENT_ID_LEN = 64  # the page's voter id, an answer id
DEFAULT_N = 5  # names per request when none is asked for (TNAAS_DEFAULT_N's default)
MAX_N = 20  # most names one request may ask for (TNAAS_MAX_N's default)
SEED_MAX = 2**63 - 1  # numpy seeds are non-negative; requests beyond this are refused
MAX_API_BODY = 64 * 1024  # bytes: the largest legitimate API body (2,000 characters of text, escaped) is ~12 KB
MAX_JSON_DEPTH = 16  # API bodies are flat objects: deeper nesting is refused before it is parsed
MAX_JSON_NUMBER_LEN = 40  # digits (and sign, point, exponent) in one JSON number: SEED_MAX has 19 digits
MAX_CHECK_NAMES = 20  # names one availability check asks about: a shortlist, not a crawl
# A believable reservoir is served only if it holds this many names per name a request may ask for (the
# max_n setting): 50 x 20 = 1,000. Smaller, requests would keep showing the same few names (a tier of
# 24 showed almost the same 10 names three times running); its model samples instead.
RESERVOIR_NAMES_PER_N = 50

# Slack (documented limits, per workspace and method; see docs/operating.md, "Slack replies")
SLACK_REACTIONS_PER_MINUTE = 45  # reactions.add is Tier 3 (50 a minute): the vote seeds stay under it
KEYCAP_VOTES_TO_LEARN = 5  # people of a team who voted with keycaps, after which its replies are no longer seeded
SLACK_MAX_BODY = 256 * 1024  # bytes of one request to /slack/events; Slack's own are a few KB
SLACK_BATCH_MAX = 48  # Slack requests one job answers, their replies posted side by side (one thread each)
SLACK_BLOCKS_CHARS = 12_000  # JSON of one message's blocks: Slack refuses past ~13,000 (msg_blocks_too_long)
SLACK_WORD_CHOICES = 25  # words of a message "Names like this" offers to start from (a select holds 100)
SLACK_PRIVATE_METADATA = 3000  # characters of a view's private_metadata: Slack's own limit
SLACK_MAX_RETRY_WAIT = 5  # seconds a worker waits on a Slack 429 before leaving the rest to a retry
SLACK_ACK_BUDGET = (
    2.0  # seconds a request may spend before its ack: Slack waits 3, the rest is the network's and Bolt's
)
SLACK_REDIS_TIMEOUT = 0.5  # seconds one Redis call before a Slack ack may take; later: the user is told to try again
SLACK_STEP_CLAIM_SECONDS = 24 * 3600  # a workflow step's execution id is run once: Slack redelivers within minutes
SLACK_TOKEN_ROTATION_MINUTES = 120  # a rotating token (12 h) is refreshed this long before it expires (Bolt's default)

# Votes count people (see store.voters): a page voter id is minted per visit, so how fast one address is
# minted them tells a person's browser from a script. One person, one vote per name; numbers, and why:
VOTER_WINDOW = 60  # seconds: voter ids minted for one address within one such minute form a batch ...
VOTER_BURST = 5  # ... a batch of more than this many was minted in bulk: all its ids vote as one, the address
VOTER_IDS_PER_DAY = 50  # new voter ids one address is given a day (an office of 20 with a few devices each);
# past it the page is served without one and its votes count as the address
BULK_BATCHES_KEPT = 100_000  # bulk batches remembered (a year each, as long as their cookies): ~10 MB at most
VOTER_COOKIE_MAX_AGE = 365 * 24 * 3600  # seconds a voter cookie lives; a bulk verdict lives as long

# Storage (see store.votes): what is kept, for how long, and what Redis may evict under memory pressure
UNVOTED_KEEP = 7 * 24 * 3600  # seconds a request nobody voted on is kept: votes come within days of an answer
# (a thread read after a long weekend); the reranker trains on voted requests only, the bandit reads only its
# counters, and the drift check compares at most 2,000 impressions each side of the last training
SHORTLIST_MAX = 50  # names one team's shortlist holds: a shortlist to choose from, and one Home section each
TOP_NAMES = 10  # best-voted names /top, `top` and the Home tab show
# Only keys with a TTL are evicted (caches, counters, requests nobody voted on, least recently used first);
# votes, voted requests, installations and signing keys have none and are never evicted
REDIS_EVICTION_POLICY = "volatile-lru"
HOME_PENDING = 60  # seconds an App Home publish waits queued, during which further openings add no job

# `tnaas up`: SIGTERM or Ctrl-C stops the whole stack within this many seconds. The web process answers
# its requests in flight within half of it; a worker's job still running past it is killed, and retried
# when the stack is next up (rq's abandoned-job handling): slow, never lost.
STACK_STOP_SECONDS = 3
LEARNT_MAX_BYTES = 32 * 1024 * 1024  # a learnt model kept in Redis (the reranker: tens of kB); larger is not shared
SENTINEL_TIMEOUT = 0.5  # seconds a sentinel may take to name the primary before the next one is asked

# A team's own corpus (corpora.team, store.team_corpora): what one upload may hold, and how many one owner keeps
TEAM_CORPUS_MIN_NAMES = 20  # fewer and a character model only copies them back (novelty collapses)
TEAM_CORPUS_MAX_NAMES = 50_000  # trains within 30 s on one worker (bench/team_corpus_training.py)
TEAM_CORPUS_MAX_BYTES = 2 * 1024 * 1024  # an upload's bytes: 50,000 names of up to 32 characters fit
TEAM_CORPUS_MAX_BODY = TEAM_CORPUS_MAX_BYTES + 512 * 1024  # POST /corpora: the list as JSON, quotes and commas
TEAM_CORPORA_PER_OWNER = 20  # corpora one team or API client keeps
TEAM_CORPUS_SLUG_LEN = 32  # a corpus name: lowercase letters, digits and single hyphens
TEAM_CORPUS_ARTIFACT_BYTES = 64 * 1024 * 1024  # one corpus' stored artifacts at most (a 50,000-name kn5 is ~25 MB)
TEAM_CORPUS_FILE_SECONDS = 30  # a file uploaded in Slack's form: its whole download (2 MB), or it is refused
TEAM_CORPUS_UPLOADS_PER_HOUR = 5  # corpus uploads one person may send from Slack an hour (each trains for seconds)
