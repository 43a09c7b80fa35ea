"""A spectral encoder: log-magnitude STFT columns, then ConvNeXt blocks at the frame rate.

The mirror of :class:`~tokgen.codecs.vocos_decoder.VocosDecoder`: one STFT column per
frame (``n_fft = 4 * hop``, "same" padding, so ``F * hop`` samples give exactly ``F``
frames), its log magnitude embedded and refined by ConvNeXt blocks, projected to the
latent. Every layer runs at the frame rate, unlike SEANet's strided convolutions at the
sample rate, so training and encoding are cheap on a CPU. The phase is not encoded: a
decoder that recovers it by Griffin-Lim needs only the magnitudes.
"""

from __future__ import annotations

import torch
from torch import nn

from tokgen.codecs.vocos_decoder import STFT, ConvNeXtTrunk

LOG_FLOOR = 1e-5  # magnitudes below it (about -100 dB) encode as silence


class SpectralEncoder(ConvNeXtTrunk):
    """Audio ``[B, C, F*hop]`` -> latent ``[B, D, F]`` from its log-magnitude STFT."""

    def __init__(
        self, dimension: int, hop: int, dim: int = 256, layers: int = 4, channels: int = 1
    ) -> None:
        bins = 2 * hop + 1  # n_fft // 2 + 1
        super().__init__(channels * bins, dim, layers)
        self.hop_length = hop
        self.stft = STFT(4 * hop, hop)
        self.project = nn.Linear(dim, dimension)
        self.init_weights()

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        batch = wav.shape[0]
        magnitude = self.stft(wav.flatten(0, 1)).abs()  # [B*C, bins, F]
        features = magnitude.clamp_min(LOG_FLOOR).log().reshape(batch, -1, magnitude.shape[-1])
        return self.project(self.trunk(features)).transpose(1, 2)  # [B, D, F]
