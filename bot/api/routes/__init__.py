"""One router per resource: answers (generate, complete, detect, poll), votes, the catalog."""
