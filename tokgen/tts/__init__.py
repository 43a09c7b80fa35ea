"""The duration TTS: flite's timed phones -> the codec's continuous latent -> its vocoder."""

from tokgen.tts.model import DurationTTSConfig, DurationTTSNet
from tokgen.tts.pipeline import KIND, DurationTTS, is_tts, load_tts, save_tts

__all__ = ["KIND", "DurationTTS", "DurationTTSConfig", "DurationTTSNet", "is_tts", "load_tts",
           "save_tts"]  # fmt: skip
