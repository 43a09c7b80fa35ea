"""Texture continuation: a prompt -> what follows, re-ordered from the prompt's own frames."""

from tokgen.continuation.pipeline import (
    KIND,
    TextureContinuation,
    load_model,
    model_info,
    save_texture,
)
from tokgen.continuation.texture import TextureConfig, TextureNet

__all__ = ["KIND", "TextureConfig", "TextureContinuation", "TextureNet", "load_model",
           "model_info", "save_texture"]  # fmt: skip
