"""The mask separator: a text query + a mixture -> a mask on the mixture's STFT -> the source."""

from tokgen.separation.model import MaskNet, MaskNetConfig
from tokgen.separation.pipeline import (
    KIND,
    MaskSeparator,
    load_model,
    load_separator_net,
    model_info,
    save_separator,
)

__all__ = ["KIND", "MaskNet", "MaskNetConfig", "MaskSeparator", "load_model", "load_separator_net",
           "model_info", "save_separator"]  # fmt: skip
