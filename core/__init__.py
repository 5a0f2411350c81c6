"""The foundation: settings, limits, errors and logging. Imports nothing of ours."""
