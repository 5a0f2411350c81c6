"""The JSON API (``/api/v1``): the same requests, jobs, workers, limits and vote store as Slack.

A request is checked here (corpus, model, n, pattern, text length: the limits the Slack grammar
applies), counted against the shared rate limits, and enqueued; the API waits up to
``TNAAS_API_WAIT`` seconds for the answer and otherwise returns its id to poll. Errors are JSON
``{"error": "..."}``: 400 bad input, 401 missing token, 404 unknown answer, 429 rate-limited,
503 busy. One router per resource (``routes/``); what a route needs comes from ``deps``.
"""
