"""Neural audio codecs behind one interface: built-in (EnCodec-family), EnCodec and DAC."""

from tokgen.codecs.base import Codec, CodecOutput
from tokgen.codecs.dac_codec import DACCodec, DACConfig
from tokgen.codecs.encodec_codec import EncodecCodec, EncodecConfig
from tokgen.codecs.registry import available_codecs, build_codec, download_codec, load_codec

__all__ = [
    "Codec",
    "CodecOutput",
    "DACCodec",
    "DACConfig",
    "EncodecCodec",
    "EncodecConfig",
    "available_codecs",
    "build_codec",
    "download_codec",
    "load_codec",
]
