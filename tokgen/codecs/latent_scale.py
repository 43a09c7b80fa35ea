"""Per-channel statistics of a codec's continuous latent, for models that generate it.

:class:`LatentScale` is a mixin for an ``nn.Module``: buffers ``latent_mean``,
``latent_std``, ``latent_low`` and ``latent_high`` (``[D]``, saved in the checkpoint),
``normalize`` to zero mean and unit variance, ``denormalize`` back, clamped to the
training latents' range. The diffusion DiT and the duration TTS both use it.
"""

from __future__ import annotations

import torch
from torch import nn


class LatentScale(nn.Module):
    """Mixin: the latent's per-channel statistics and the maps to and from unit scale."""

    def register_latent_statistics(self, dim: int) -> None:
        """Create the ``[dim]`` buffers (identity scale, an unbounded range)."""
        self.register_buffer("latent_mean", torch.zeros(dim))
        self.register_buffer("latent_std", torch.ones(dim))
        self.register_buffer("latent_low", torch.full((dim,), -1e4))
        self.register_buffer("latent_high", torch.full((dim,), 1e4))

    def set_statistics(
        self, mean: torch.Tensor, std: torch.Tensor, low: torch.Tensor, high: torch.Tensor
    ) -> None:
        """Per-channel ``[D]`` mean, standard deviation and range of the training latents."""
        self.latent_mean.copy_(mean)
        self.latent_std.copy_(std.clamp(min=1e-3))
        self.latent_low.copy_(low)
        self.latent_high.copy_(high)

    def normalize(self, latent: torch.Tensor) -> torch.Tensor:
        """Codec latent ``[B, D, F]`` -> zero mean, unit variance per channel."""
        return (latent - self.latent_mean[:, None]) / self.latent_std[:, None]

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``[B, D, F]`` -> codec latent, clamped to the training range."""
        latent = x * self.latent_std[:, None] + self.latent_mean[:, None]
        return latent.clamp(self.latent_low[:, None], self.latent_high[:, None])
