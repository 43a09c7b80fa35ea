"""What the fitted codecs share (:mod:`parametric_codec`, :mod:`spectral_codec`): their
state is fitted by ``tokgen fit codec`` (a k-means codebook per stage), not trained."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from tokgen.codecs.base import Codec, CodecOutput
from tokgen.errors import ConfigError


class FittedCodec(Codec):
    """A mono codec with ``codebooks [K, N, D]`` and their centre ``mean`` as buffers; its
    config names ``sample_rate``, ``hop_length``, ``n_q``, ``bins`` and ``backend``.

    ``tokgen fit codec`` asks it for :meth:`fit_features` of each clip, turns them into
    latent frames with :meth:`fit_latent`, and fits the codebooks on
    :meth:`residual_vectors` of those.
    """

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def channels(self) -> int:
        return 1

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def max_codebooks(self) -> int:
        return self.config.n_q

    @property
    def cardinality(self) -> int:
        return self.config.bins

    @property
    def device(self) -> torch.device:
        return self.codebooks.device

    @abstractmethod
    def fit_features(self, path: str) -> np.ndarray:
        """What fitting analyses of one clip, ``[F, S]``."""

    @abstractmethod
    def fit_latent(self, features: np.ndarray, seed: int) -> np.ndarray:
        """Analysed frames ``[N, S]`` -> latent frames ``[N, D]`` (fitting what that needs)."""

    @abstractmethod
    def residual_vectors(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, D, F]`` -> the ``[B, F, R]`` vectors the codebooks quantize (centred)."""

    def forward(self, wav: torch.Tensor, num_codebooks: int | None = None) -> CodecOutput:
        raise ConfigError(
            f"{self.name} is fitted, not trained: fit its codebooks with "
            f"`tokgen fit codec --backend {self.config.backend}`."
        )


def nearest(vectors: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index ``[...]`` of the nearest codebook row for ``vectors [..., R]``, ``codebook [N, R]``."""
    flat = vectors.reshape(-1, vectors.shape[-1])  # [M, R]
    scores = flat @ codebook.T - 0.5 * (codebook * codebook).sum(-1)  # [M, N]
    return scores.argmax(-1).reshape(vectors.shape[:-1])
