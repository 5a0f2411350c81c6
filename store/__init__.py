"""Everything kept in Redis; each class owns its key prefix and nothing outside this package spells a key."""
