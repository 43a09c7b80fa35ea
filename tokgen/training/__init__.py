"""One accelerate-based trainer and the codec / LM training recipes that run on it."""
