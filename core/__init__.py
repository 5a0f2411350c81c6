"""The foundation: settings, limits, errors and logging, and the vocabulary every layer shares (model
names, how a pattern is written, where artifacts are kept, the standings' posteriors). Imports nothing
of ours."""
