"""The AR + NAR codec language model: config, transformer, model, sampling, generation."""
