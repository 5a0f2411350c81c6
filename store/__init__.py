"""Everything TNaaS keeps in Redis. Each class owns its key prefix; nothing outside this package
spells a key (rq's own keys are rq's).

Every key has a TTL or a bound. Redis runs with ``maxmemory`` and ``volatile-lru``
(``core.limits.REDIS_EVICTION_POLICY``): under memory pressure it evicts only keys with a TTL, least
recently used first, so what must never go (votes, voted requests, installations, keys) has none and is
bounded otherwise: by the retention purge, by people (rate limits), or by a count.

| prefix | owner | what | kept |
| --- | --- | --- | --- |
| ``tnaas:impression:`` | ``votes.VoteStore`` | a shown request, a list: its mark (names, request; JSON), then each candidate's scores | ``UNVOTED_KEEP`` (7 days) unvoted; voted: until the retention purge |
| ``tnaas:votes:``, ``tnaas:counted:``, ``tnaas:tally:`` | ``votes.VoteStore`` | votes per voter; per identity; people up / down per candidate | the retention purge (with their request) |
| ``tnaas:shown``, ``tnaas:unvoted``, ``tnaas:impressions-kept`` | ``votes.VoteStore`` | index of kept requests by when shown; of unvoted ones by expiry; impressions kept | the purge removes entries with their request |
| ``tnaas:top:`` | ``votes.VoteStore`` | best-voted names, everyone's and per team, kept as votes arrive | one member per voted name kept |
| ``tnaas:vote-changes``, ``tnaas:vote-changes-learnt`` | ``votes.VoteStore`` | votes cast or taken back; how many the learner has read | two counters |
| ``tnaas:impressions``, ``tnaas:message:``, ``tnaas:ups:`` | ``votes.VoteStore`` | the layout before, moved by the first upkeep (``upgrade``) | deleted by it |
| ``tnaas:voters:``, ``tnaas:voters-votes:`` | ``voters.VoterBatches`` | page voter ids minted per address (a minute's batch, a day's), votes of open batches | 2 minutes; 2 days; while open |
| ``tnaas:voters-bulk`` | ``voters.VoterBatches`` | batches minted in bulk | a year, at most ``BULK_BATCHES_KEPT`` |
| ``tnaas:arms`` | ``arms.ArmCounts`` | the bandit's shown / up-voted counters | fields per corpus and model |
| ``tnaas:event:`` | ``events.SeenEvents`` | Slack event ids already acted on | a day |
| ``tnaas:request:`` | ``events.SeenRequests`` | signatures of Slack requests already dispatched (replays) | 10 minutes |
| ``tnaas:reply:`` | ``replies.ReplyProgress`` | what each Slack reply job has posted so far | a day |
| ``tnaas:reply-team:`` | ``replies.ReplyTeams`` | the workspace of each candidate message posted (vote buttons' check) | a day |
| ``tnaas:team:`` | ``slack_teams.TeamHabits`` | per workspace: keycap voters, reaction budget, 429 pause | voters: at most ``KEYCAP_VOTES_TO_LEARN``; 2 minutes; Retry-After |
| ``tnaas:shortlist:`` | ``shortlists.Shortlists`` | each team's shortlist: name, corpus, who added it, when | at most ``SHORTLIST_MAX`` per team; the retention purge, ``votes forget --user``, uninstall |
| ``tnaas:home:`` | ``home_tabs.HomeTabs`` | an App Home publish queued for a person | ``HOME_PENDING`` |
| ``tnaas:slack:`` | ``installations.RedisInstallationStore``, ``RedisOAuthStateStore`` | installations, bot tokens, OAuth states, rotation locks | installations: per workspace, until uninstalled; states 10 minutes; locks 15 s |
| ``tnaas:slack-batch:``, ``tnaas:slack-batch-taken:`` | ``slack_batches.SlackBatches`` | Slack requests waiting together for a worker | a day |
| ``tnaas:rate:`` | ``rate_limit.RateLimits`` | one-minute request counters; hourly ones for corpus uploads from Slack | 2 minutes; 2 hours |
| ``tnaas:learnt:`` | ``learnt.LearntModels`` | what the stack learnt at run time (the reranker's file), so every machine loads the same | one key per learnt model, at most ``LEARNT_MAX_BYTES`` each |
| ``tnaas:models:version``, ``tnaas:workers:models`` | ``deploys.ModelVersions`` | published model version, what each worker holds | one key; a field per worker (a killed worker's stays) |
| ``tnaas:claim:`` | ``claims.Claims`` | job ids claimed by an idempotency key; ``step:``: workflow step executions queued | as long as the answer; a step's ``SLACK_STEP_CLAIM_SECONDS`` (a day) |
| ``tnaas:answer:``, ``tnaas:answer-job:``, ``tnaas:answer-inbox:`` | ``answers.Answers`` | API answers by id, the job carrying each, a batch's replies pushed to its waiting web process | ``TNAAS_RESULT_TTL``; the API's wait |
| ``tnaas:training`` | ``training.TrainingProgress`` | what `tnaas up`'s background trainer has still to train | one key, deleted when done |
| ``tnaas:crash-loops`` | ``crash_loops.CrashLoops`` | children of `tnaas up` in a crash loop (for /healthz) | a field per child, cleared when it runs again |
| ``tnaas:secret:`` | ``signing.SigningKeys`` | the web processes' shared signing key (voter cookies) | one key per name |
| ``tnaas:availability:`` | ``availability.AvailabilityCache`` | registries' live "free"/"taken" answers | ``TNAAS_AVAILABILITY_TTL`` |
| ``tnaas:corpora:`` | ``team_corpora.TeamCorpora`` | per owner (a hash of its identity): its corpora's state, report and version | at most ``TEAM_CORPORA_PER_OWNER`` fields; until deleted |
| ``tnaas:corpus-names:`` | ``team_corpora.TeamCorpora`` | a team corpus' checked list | at most ``TEAM_CORPUS_MAX_BYTES``; until deleted |
| ``tnaas:corpus-model:`` | ``team_corpora.TeamCorpora`` | a team corpus' trained artifacts (name model, reservoir) and version | at most ``TEAM_CORPUS_ARTIFACT_BYTES``; until deleted |
| ``tnaas:corpora-bytes`` | ``team_corpora.TeamCorpora`` | bytes each team corpus takes (its list and artifacts) | a field per corpus, removed with it |
| ``tnaas:corpus-training:`` | ``team_corpora.TeamCorpora`` | the job training a team corpus (one at a time) | the job's timeout |
| ``tnaas:top:corpus:`` | ``votes.VoteStore`` | best-voted names of one team's private corpus (never in everyone's `top`) | one member per voted name kept; deleted with the corpus |
"""
