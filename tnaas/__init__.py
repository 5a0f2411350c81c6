"""TNaaS: Tech Names as a Service."""
