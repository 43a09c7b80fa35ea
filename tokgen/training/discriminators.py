"""A discriminator on an STFT decoder's log-magnitude frames.

Magnitude regression (L1 of logs, spectral convergence) averages over what the tokens
leave uncertain, so the decoded spectra come out smooth: the harmonics above ~1 kHz fade
into noise. An adversarial loss on the magnitudes themselves restores that detail (the
GAN post-filter of Kaneko et al. 2017) at a fraction of a waveform GAN's cost, and it
needs no waveform: the phase comes from Griffin-Lim at inference.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import weight_norm

MAGNITUDE_FLOOR = 1e-5


class MagnitudeDiscriminator(nn.Module):
    """2-D convolutions over ``[frames, bins]`` of log magnitudes, striding over frequency
    (encodec's STFT discriminator layout). Returns ``([logits], [feature maps])`` like
    encodec's ``MultiScaleSTFTDiscriminator``, so the same losses apply."""

    def __init__(self, filters: int = 32, dilations: tuple[int, ...] = (1, 2, 4)) -> None:
        super().__init__()
        convs = [nn.Conv2d(1, filters, (3, 9), padding=(1, 4))]
        convs += [
            nn.Conv2d(filters, filters, (3, 9), stride=(1, 2), dilation=(d, 1), padding=(d, 4))
            for d in dilations
        ]
        convs.append(nn.Conv2d(filters, filters, (3, 3), padding=(1, 1)))
        self.convs = nn.ModuleList(weight_norm(conv) for conv in convs)
        self.post = weight_norm(nn.Conv2d(filters, 1, (3, 3), padding=(1, 1)))
        self.activation = nn.LeakyReLU(0.2)

    def forward(
        self, magnitude: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """``magnitude [B, bins, F]`` (linear) -> ``([logits [B, 1, F, bins']], [maps])``."""
        x = magnitude.clamp_min(MAGNITUDE_FLOOR).log().transpose(1, 2)[:, None]  # [B, 1, F, bins]
        maps = []
        for conv in self.convs:
            x = self.activation(conv(x))
            maps.append(x)
        return [self.post(x)], [maps]
