"""What makes and describes the built-in model: corpus, training recipes, evaluation (scripts, not installed)."""
