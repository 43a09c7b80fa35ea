"""The decoder seam: what turns a model's target codes into audio.

A model makes codes ``[K, F]``; a :class:`Decoder` makes the waveform. The default,
``mask`` (:class:`tokgen.decoders.mask.MaskDecoder`), is the codec's own decoder
(``codec``, :class:`CodecDecoder`) except for separation, where the decoded source masks
the mixture. Another decoder (a diffusion decoder, say) is one class plus one
:func:`register_decoder` line, named by a checkpoint's ``model_index.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tokgen.codecs import Codec
from tokgen.errors import ConfigError


class Decoder:
    """Codes -> audio at ``sample_rate``; ``hop_length`` samples per frame."""

    sample_rate: int
    channels: int
    hop_length: int

    def decode(self, codes: torch.Tensor, arguments: dict[str, Any]) -> torch.Tensor:
        """``codes [K, F]`` of one item -> audio ``[C, F * hop_length]``. ``arguments`` are
        the item's conditions as the caller gave them (a mixture's audio, a caption...),
        plus ``task`` (its name) and ``sample_rate`` when the caller gave one."""
        raise NotImplementedError


class CodecDecoder(Decoder):
    """The codec's own decoder."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.sample_rate = codec.sample_rate
        self.channels = codec.channels
        self.hop_length = codec.hop_length

    def decode(self, codes: torch.Tensor, arguments: dict[str, Any]) -> torch.Tensor:
        return self.codec.decode(codes[None].cpu())[0]


# name -> factory(options from model_index.json, the checkpoint folder, the model's codec)
DecoderFactory = Callable[[dict[str, Any], Path, Codec], Decoder]
DECODERS: dict[str, DecoderFactory] = {}
DEFAULT_DECODER = "mask"


def register_decoder(name: str, factory: DecoderFactory) -> None:
    """Make ``name`` usable as ``decoder.type`` in a ``model_index.json``."""
    DECODERS[name] = factory


def build_decoder(options: dict[str, Any], folder: Path, codec: Codec) -> Decoder:
    """The decoder ``options["type"]`` names (:data:`DEFAULT_DECODER` when none), built from
    ``options``."""
    name = options.get("type", DEFAULT_DECODER)
    if name not in DECODERS:
        raise ConfigError(
            f"{folder}: unknown decoder {name!r}; known: {sorted(DECODERS)}. Register it with "
            "tokgen.decoders.register_decoder."
        )
    return DECODERS[name]({k: v for k, v in options.items() if k != "type"}, folder, codec)


register_decoder("codec", lambda options, folder, codec: CodecDecoder(codec))
