"""DAC backend: Descript Audio Codec (``descript-audio-codec``) behind the :class:`Codec` API."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from tokgen.codecs.base import Codec, CodecOutput


@dataclass
class DACConfig:
    """Architecture of a DAC model (the keyword arguments of ``dac.DAC``)."""

    name: str = "dac-custom"
    backend: str = "dac"
    sample_rate: int = 44_100
    encoder_dim: int = 64
    encoder_rates: list[int] = field(default_factory=lambda: [2, 4, 8, 8])  # hop = product
    latent_dim: int | None = None  # None: encoder_dim * 2**len(encoder_rates)
    decoder_dim: int = 1536
    decoder_rates: list[int] = field(default_factory=lambda: [8, 8, 4, 2])
    n_codebooks: int = 9
    codebook_size: int = 1024
    codebook_dim: int = 8
    quantizer_dropout: float = 0.0


class DACCodec(Codec):
    """A :class:`Codec` over ``dac.DAC`` (mono)."""

    config: DACConfig

    def __init__(self, config: DACConfig) -> None:
        from dac import DAC  # heavy import (audiotools), only when a DAC is built

        model = DAC(
            encoder_dim=config.encoder_dim,
            encoder_rates=list(config.encoder_rates),
            latent_dim=config.latent_dim,
            decoder_dim=config.decoder_dim,
            decoder_rates=list(config.decoder_rates),
            n_codebooks=config.n_codebooks,
            codebook_size=config.codebook_size,
            codebook_dim=config.codebook_dim,
            quantizer_dropout=config.quantizer_dropout,
            sample_rate=config.sample_rate,
        )
        super().__init__(config)
        self.model = model

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def channels(self) -> int:
        return 1

    @property
    def hop_length(self) -> int:
        return int(self.model.hop_length)

    @property
    def max_codebooks(self) -> int:
        return self.config.n_codebooks

    @property
    def cardinality(self) -> int:
        return self.config.codebook_size

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    def _encode_chunk(self, wav: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(wav)  # [B, 1, F*hop] -> [B, D, F]

    def _decode_chunk(self, latent: torch.Tensor) -> torch.Tensor:
        wav = self.model.decoder(latent)  # [B, D, F] -> [B, 1, ~F*hop]
        # DAC's odd-stride transposed convs lose a few samples, about equally at both ends.
        missing = latent.shape[-1] * self.hop_length - wav.shape[-1]
        return nn.functional.pad(wav, (missing // 2, missing - missing // 2))  # [B, 1, F*hop]

    def _quantize(self, latent: torch.Tensor, num_codebooks: int) -> torch.Tensor:
        _, codes, *_ = self.model.quantizer(latent, n_quantizers=num_codebooks)  # [B, N, F]
        return codes[:, :num_codebooks]

    def _dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        quantized, _, _ = self.model.quantizer.from_codes(codes)  # [B, D, F]
        return quantized

    def forward(self, wav: torch.Tensor, num_codebooks: int | None = None) -> CodecOutput:
        latent = self.model.encoder(wav)  # [B, D, F]
        quantized, codes, _, commitment, codebook = self.model.quantizer(latent, num_codebooks)
        return CodecOutput(
            audio=self.model.decoder(quantized),
            codes=codes,
            commitment_loss=commitment + codebook,
        )
