"""Everything TNaaS keeps in Redis. Each class owns its key prefix; nothing outside this package
spells a key (rq's own keys are rq's).

| prefix | owner | what |
| --- | --- | --- |
| ``tnaas:message:``, ``tnaas:votes:``, ``tnaas:ups:``, ``tnaas:impressions`` | ``votes.VoteStore`` | shown candidates, votes |
| ``tnaas:arms`` | ``arms.ArmCounts`` | the bandit's shown / up-voted counters |
| ``tnaas:event:`` | ``events.SeenEvents`` | Slack event ids already acted on |
| ``tnaas:request:`` | ``events.SeenRequests`` | signatures of Slack requests already dispatched (replays) |
| ``tnaas:reply:`` | ``replies.ReplyProgress`` | what each Slack reply job has posted so far |
| ``tnaas:reply-team:`` | ``replies.ReplyTeams`` | the workspace of each candidate message posted (vote buttons' check) |
| ``tnaas:team:`` | ``slack_teams.TeamHabits`` | per workspace: keycap votes seen, reaction budget, 429 pause |
| ``tnaas:slack:`` | ``installations.RedisInstallationStore``, ``RedisOAuthStateStore`` | installations, bot tokens, OAuth states, rotation locks |
| ``tnaas:rate:`` | ``rate_limit.RateLimits`` | one-minute request counters |
| ``tnaas:models:version``, ``tnaas:workers:models`` | ``deploys.ModelVersions`` | published model version, what each worker holds |
| ``tnaas:claim:`` | ``claims.Claims`` | job ids claimed by an idempotency key |
| ``tnaas:answer:``, ``tnaas:answer-job:``, ``tnaas:answer-inbox:`` | ``answers.Answers`` | API answers by id, the job carrying each, a batch's replies pushed to its waiting web process |
| ``tnaas:secret:`` | ``signing.SigningKeys`` | the web processes' shared signing key (voter cookies) |
| ``tnaas:availability:`` | ``availability.AvailabilityCache`` | registries' live "free"/"taken" answers, with a TTL |
"""
