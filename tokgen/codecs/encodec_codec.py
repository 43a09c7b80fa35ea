"""EnCodec backend: the ``encodec`` package's SEANet encoder/decoder and residual VQ.

Covers the official 24 kHz / 48 kHz architectures and any custom configuration, including
tokgen's own CPU-sized codec. Module names match ``encodec.EncodecModel``, so official
state dicts load as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from einops import rearrange
from encodec.modules import SEANetDecoder, SEANetEncoder
from encodec.quantization import ResidualVectorQuantizer
from torch import nn

from tokgen.codecs.base import Codec, CodecOutput
from tokgen.codecs.spectral_encoder import SpectralEncoder
from tokgen.codecs.vocos_decoder import VocosDecoder
from tokgen.errors import ConfigError


@dataclass
class EncodecConfig:
    """Architecture of an EnCodec-family codec (SEANet + RVQ)."""

    name: str = "encodec-custom"
    backend: str = "encodec"
    sample_rate: int = 16_000
    channels: int = 1
    n_filters: int = 32
    ratios: list[int] = field(default_factory=lambda: [8, 5, 4, 2])  # hop = product
    dimension: int = 128  # latent D
    n_residual_layers: int = 1
    lstm: int = 0  # LSTM layers; 0 keeps the receptive field finite (exact chunking)
    causal: bool = False
    norm: str = "weight_norm"  # or "time_group_norm" (encodec_48khz)
    n_q: int = 8  # codebooks K
    bins: int = 1024  # codebook size
    kmeans_init: bool = True  # k-means codebook init on the first training batch
    ema_decay: float = 0.99
    encoder: str = "seanet"  # or "spectral": log-magnitude STFT + ConvNeXt at the frame rate
    encoder_dim: int = 256  # spectral only: width and depth of the ConvNeXt stack
    encoder_layers: int = 4
    decoder: str = "seanet"  # or "vocos": ConvNeXt at the frame rate + inverse-STFT head
    decoder_dim: int = 384  # vocos only: width and depth of the ConvNeXt stack
    decoder_layers: int = 8
    decoder_phase: str = "predicted"  # vocos only: or "griffin_lim" (from the magnitude)
    decoder_griffin_lim_iters: int = 32  # more: better phase, slower decoding


DECODER_KEYS = (
    "decoder",
    "decoder_dim",
    "decoder_layers",
    "decoder_phase",
    "decoder_griffin_lim_iters",
)  # no effect on the tokens
DECODERS = ("seanet", "vocos")
ENCODERS = ("seanet", "spectral")
ENCODER_KEYS = ("encoder", "encoder_dim", "encoder_layers")


class EncodecCodec(Codec):
    """A :class:`Codec` over EnCodec's SEANet modules and RVQ."""

    config: EncodecConfig

    def __init__(self, config: EncodecConfig) -> None:
        nn_kwargs = dict(
            channels=config.channels,
            dimension=config.dimension,
            n_filters=config.n_filters,
            ratios=list(config.ratios),
            n_residual_layers=config.n_residual_layers,
            lstm=config.lstm,
            causal=config.causal,
            norm=config.norm,
        )
        if config.decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {DECODERS}, got {config.decoder!r}.")
        if config.encoder not in ENCODERS:
            raise ConfigError(f"encoder must be one of {ENCODERS}, got {config.encoder!r}.")
        encoder: nn.Module
        if config.encoder == "spectral":
            encoder = SpectralEncoder(
                config.dimension,
                math.prod(config.ratios),
                dim=config.encoder_dim,
                layers=config.encoder_layers,
                channels=config.channels,
            )
        else:
            encoder = SEANetEncoder(**nn_kwargs)
        decoder: nn.Module
        if config.decoder == "vocos":
            decoder = VocosDecoder(
                config.dimension,
                int(encoder.hop_length),
                dim=config.decoder_dim,
                layers=config.decoder_layers,
                channels=config.channels,
                phase=config.decoder_phase,
                griffin_lim_iters=config.decoder_griffin_lim_iters,
            )
        else:
            decoder = SEANetDecoder(**nn_kwargs)
        quantizer = ResidualVectorQuantizer(
            dimension=config.dimension,
            n_q=config.n_q,
            bins=config.bins,
            decay=config.ema_decay,
            kmeans_init=config.kmeans_init,
        )
        self._hop = int(encoder.hop_length)
        super().__init__(config)
        self.encoder, self.decoder, self.quantizer = encoder, decoder, quantizer
        _variance_preserving_init(self)

    @property
    def token_config(self) -> dict[str, Any]:
        """The config minus the decoder's keys: a new decoder leaves the tokens valid.

        A SEANet encoder also drops the spectral encoder's keys (they do not apply), so
        hashes from before those keys existed stay valid.
        """
        ignored = DECODER_KEYS + (ENCODER_KEYS if self.config.encoder == "seanet" else ())
        return {k: v for k, v in super().token_config.items() if k not in ignored}

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def hop_length(self) -> int:
        return self._hop

    @property
    def max_codebooks(self) -> int:
        return self.config.n_q

    @property
    def cardinality(self) -> int:
        return self.config.bins

    @property
    def latent_dim(self) -> int:
        return self.config.dimension

    def _encode_chunk(self, wav: torch.Tensor) -> torch.Tensor:
        return self.encoder(wav)  # [B, C, F*hop] -> [B, D, F]

    def _decode_chunk(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)  # [B, D, F] -> [B, C, F*hop]

    def _quantize(self, latent: torch.Tensor, num_codebooks: int) -> torch.Tensor:
        codes = self.quantizer.vq.encode(latent, n_q=num_codebooks)  # [K, B, F]
        return rearrange(codes, "k b f -> b k f")

    def _dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        return self.quantizer.vq.decode(rearrange(codes, "b k f -> k b f"))  # [B, D, F]

    def forward(self, wav: torch.Tensor, num_codebooks: int | None = None) -> CodecOutput:
        latent = self.encoder(wav)  # [B, D, F]
        quantized, codes, commit = self.quantizer.vq(latent, n_q=num_codebooks or self.config.n_q)
        magnitude = None
        if isinstance(self.decoder, VocosDecoder):
            magnitude, phase = self.decoder.spectrum(quantized)  # [B*C, bins, F]
            audio = self.decoder.synthesize(magnitude, phase)  # [B, C, T]
        else:
            audio = self.decoder(quantized)
        return CodecOutput(
            audio=audio,
            codes=rearrange(codes, "k b f -> b k f"),
            commitment_loss=commit.mean(),
            magnitude=magnitude,
        )


OUTPUT_GAIN = 0.01  # the decoder starts near silence instead of at a loud random signal


def _variance_preserving_init(codec: EncodecCodec) -> None:
    """Kaiming-normal conv weights (ReLU gain), zero biases, a quiet decoder output layer.

    torch's default conv init shrinks the signal ~2x per SEANet stage, so a fresh encoder's
    latent is ~1e-3 signal and ~1 bias: the first k-means fit then sees near-identical
    vectors and training collapses onto one code. This init keeps latents informative.
    Official checkpoints overwrite it when loaded.
    """
    seanet: list[nn.Module] = [codec.quantizer]
    if isinstance(codec.encoder, SEANetEncoder):  # a spectral encoder initialises itself
        seanet.append(codec.encoder)
    if isinstance(codec.decoder, SEANetDecoder):  # a Vocos decoder initialises itself
        seanet.append(codec.decoder)
    convs = [
        m
        for part in seanet
        for m in part.modules()
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))
    ]
    with torch.no_grad():
        for conv in convs:
            mode = "fan_in" if isinstance(conv, nn.Conv1d) else "fan_out"
            weight = conv.weight_v if hasattr(conv, "weight_v") else conv.weight
            nn.init.kaiming_normal_(weight, mode=mode, nonlinearity="relu")
            if hasattr(conv, "weight_g"):  # weight norm over all dims but the first
                conv.weight_g.copy_(weight.norm(dim=(1, 2), keepdim=True))
            if conv.bias is not None:
                conv.bias.zero_()
        if isinstance(codec.decoder, SEANetDecoder):
            output = [m for m in codec.decoder.modules() if isinstance(m, nn.Conv1d)][-1]
            (output.weight_g if hasattr(output, "weight_g") else output.weight).mul_(OUTPUT_GAIN)
