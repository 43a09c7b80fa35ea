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

from tokgen.codecs.vocos_decoder import STFT, ConvNeXtBlock

LOG_FLOOR = 1e-5  # magnitudes below it (about -100 dB) encode as silence


class SpectralEncoder(nn.Module):
    """Audio ``[B, C, F*hop]`` -> latent ``[B, D, F]`` from its log-magnitude STFT."""

    def __init__(
        self, dimension: int, hop: int, dim: int = 256, layers: int = 4, channels: int = 1
    ) -> None:
        super().__init__()
        self.hop_length = hop
        self.stft = STFT(4 * hop, hop)
        bins = 2 * hop + 1  # n_fft // 2 + 1
        self.embed = nn.Conv1d(channels * bins, dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, 3 * dim, 1 / layers) for _ in range(layers))
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.project = nn.Linear(dim, dimension)
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        batch = wav.shape[0]
        magnitude = self.stft(wav.flatten(0, 1)).abs()  # [B*C, bins, F]
        features = magnitude.clamp_min(LOG_FLOOR).log().reshape(batch, -1, magnitude.shape[-1])
        x = self.norm(self.embed(features).transpose(1, 2)).transpose(1, 2)  # [B, dim, F]
        for block in self.blocks:
            x = block(x)
        return self.project(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # [B, D, F]
