"""The duration TTS: flite's timed phones -> the codec's continuous latent -> its vocoder."""

from tokgen.tts.model import DurationTTSConfig, DurationTTSNet
from tokgen.tts.pipeline import KIND, DurationTTS, load_model, model_info, save_tts

__all__ = ["KIND", "DurationTTS", "DurationTTSConfig", "DurationTTSNet", "load_model", "model_info",
           "save_tts"]  # fmt: skip
