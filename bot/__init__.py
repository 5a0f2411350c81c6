"""The web process: health today; the Slack endpoint and the HTTP API build on this app."""
