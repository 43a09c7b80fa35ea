"""Decoders: a model's target codes -> audio (see :mod:`tokgen.decoders.base`)."""

from tokgen.decoders.base import (
    DECODERS,
    DEFAULT_DECODER,
    CodecDecoder,
    Decoder,
    build_decoder,
    register_decoder,
)
from tokgen.decoders.mask import MaskDecoder, apply_mask

register_decoder("mask", lambda options, folder, codec: MaskDecoder(codec, **options))

__all__ = [
    "DECODERS",
    "DEFAULT_DECODER",
    "CodecDecoder",
    "Decoder",
    "MaskDecoder",
    "apply_mask",
    "build_decoder",
    "register_decoder",
]
