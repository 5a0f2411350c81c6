"""The Slack surface: the HTTP endpoint, the Bolt app and its listeners, the command grammar, and the
jobs that post replies (run by workers, enqueued by dotted path)."""
