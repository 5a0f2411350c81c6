"""Every fixed limit, defined once. The grammar, the API, the job contracts, the CLI and the models
read them from here; limits an operator may tune (names per request, rates, queue length) are
settings (``tnaas.settings``)."""

from __future__ import annotations

MAX_NAME_LEN = 32  # the longest name a model makes, scores or completes: the length prior's support
MAX_PATTERN_LEN = MAX_NAME_LEN  # a pattern is a name with unknown letters
MAX_TEXT_LEN = 2000  # text anyone may send (`is ...`, `lang ...`, a slash command): a few thousand characters at most
EVIDENCE_LEN = 1000  # what the classifiers read of a longer text: plenty for a language decision
MAX_CORPUS_NAME_LEN = 64  # a corpus or model name in a request; longer is a mistake
MAX_MODEL_NAME_LEN = 32
MAX_CLIENT_ID_LEN = 64  # the page's voter id, an answer id
SEED_MAX = 2**63 - 1  # numpy seeds are non-negative; requests beyond this are refused
