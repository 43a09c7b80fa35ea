"""The mask separator network: a mixture's STFT + a text query -> a ratio mask for the source.

A single-source code cannot describe a mixture, and two CPU cores cannot teach a token LM
to separate (``tokgen-small``: -10 dB). What the hardware can reach is the classic
time-frequency mask (LASS-Net / AudioSep's regime, at a tiny size): the network looks at
the mixture's log magnitudes and the query's sentence embedding and says, per STFT bin,
how much of the mixture belongs to the queried source; the mixture's own phase is kept::

    log |STFT(mixture)| [B, bins, N] --linear--> [B, W, N]
        --(dilated conv block, FiLM by the query embedding) x layers-->
        --linear, sigmoid--> mask [B, bins, N]

The STFT is :func:`tokgen.decoders.mask.stft` (Hann, 512 points, hop 128 at 16 kHz), the
one every mask in tokgen uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tokgen.decoders.mask import istft, stft
from tokgen.errors import ConfigError
from tokgen.layers import ConvBlock

FLOOR = 1e-4  # magnitude floor before the log


@dataclass
class MaskNetConfig:
    """Sizes of the network and its STFT; saved in the checkpoint."""

    sample_rate: int = 16000
    n_fft: int = 512
    query_dim: int = 384  # the caption encoder's embedding (MiniLM)
    width: int = 256
    layers: int = 8
    kernel: int = 5
    dropout: float = 0.0
    max_duration: float = 60.0  # seconds: the longest mixture generate() takes
    codec: str = "tokgen-codec-16k"  # what `codes` of the output are in

    def __post_init__(self) -> None:
        if self.width < 8 or self.kernel % 2 == 0 or self.layers < 1 or self.n_fft < 16:
            raise ConfigError(
                f"mask separator needs width >= 8, an odd kernel, layers >= 1 and n_fft >= 16; "
                f"got {self.width}, {self.kernel}, {self.layers}, {self.n_fft}."
            )

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1


class MaskNet(nn.Module):
    """Mixture waveform + query embedding -> the queried source's waveform (masked)."""

    def __init__(self, config: MaskNetConfig) -> None:
        super().__init__()
        self.config = config
        w, bins = config.width, config.bins
        self.inp = nn.Linear(bins, w)
        self.blocks = nn.ModuleList(
            ConvBlock(w, config.kernel, 2 ** (i % 4), config.dropout) for i in range(config.layers)
        )
        self.film = nn.Linear(config.query_dim, 2 * w * config.layers)  # scale, shift per block
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.norm_out = nn.LayerNorm(w)
        self.out = nn.Linear(w, bins)

    def mask(self, magnitude: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """``magnitude [B, bins, N]`` of the mixture, ``query [B, Q]`` -> mask in [0, 1]
        ``[B, bins, N]``."""
        x = torch.log(magnitude + FLOOR)
        x = x - x.mean(dim=(1, 2), keepdim=True)  # the mixture's level does not matter
        h = self.inp(x.transpose(1, 2)).transpose(1, 2)  # [B, W, N]
        ones = torch.ones_like(h[:, :1])  # [B, 1, N]: every frame is real
        films = self.film(query).chunk(2 * len(self.blocks), dim=-1)  # each [B, W]
        for i, block in enumerate(self.blocks):
            h = block(h, ones)
            h = h * (1 + films[2 * i][..., None]) + films[2 * i + 1][..., None]
        logits = self.out(self.norm_out(h.transpose(1, 2))).transpose(1, 2)
        return torch.sigmoid(logits)

    def forward(self, mixture: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """``mixture [B, T]`` (at ``sample_rate``), ``query [B, Q]`` -> the separated source
        ``[B, T]`` (the mask on the mixture's STFT, its phase kept)."""
        spec = stft(mixture, self.config.n_fft)  # [B, bins, N] complex
        return istft(spec * self.mask(spec.abs(), query), mixture.shape[-1], self.config.n_fft)
