"""Decoders: a model's target codes -> audio (see :mod:`tokgen.decoders.base`)."""

from tokgen.decoders.base import (
    DECODERS,
    CodecDecoder,
    Decoder,
    build_decoder,
    register_decoder,
)

__all__ = ["DECODERS", "CodecDecoder", "Decoder", "build_decoder", "register_decoder"]
