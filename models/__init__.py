"""Learning: character models compiled to automata, exact sampling and completion, artifacts."""
