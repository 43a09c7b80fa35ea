"""The pitch-explicit parametric codec: WORLD parameters + fitted residual k-means codebooks.

Nothing here is trained: F0, envelope and aperiodicity come from the WORLD vocoder
(:mod:`tokgen.codecs.world_vocoder`) and the codebooks are fitted by k-means
(:mod:`tokgen.training.codebook_fit`, ``tokgen fit codec``). Codes ``[B, K, F]``, coarse to
fine::

    k = 0      residual stage 0 over [envelope | aperiodicity]  (phonetic content, timing)
    k = 1      F0 / voicing: 0 = unvoiced, 1..card-1 = log-uniform F0 in [f0_min, f0_max]
    k = 2..    residual stages 1.. (finer envelope and aperiodicity)
    k = K-1    with ``second_pitch``: the second harmonic source's F0 (0 = none)

so the first codebook (what an AR stage predicts) carries the spectral content, not the
pitch contour. The continuous latent ``[B, D, F]`` is the parameter vector of
:func:`tokgen.codecs.world_vocoder.analyze`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from tokgen.codecs.fitted import FittedCodec, nearest
from tokgen.codecs.world_vocoder import F0_TRACKERS, WorldSettings, analyze, synthesize
from tokgen.errors import ConfigError

Slot = tuple[str, int]  # ("residual", stage) or ("pitch", latent column of ln F0)


@dataclass
class ParametricConfig:
    """Everything that fixes the tokens; the codebooks themselves are the state dict."""

    name: str = "tokgen-codec-16k"
    sample_rate: int = 16_000
    hop_length: int = 320  # 20 ms frames: 50 Hz
    envelope_dims: int = 40
    f0_floor: float = 50.0  # analysis range (DIO)
    f0_ceil: float = 1100.0
    dio_allowed_range: float = 0.3
    f0_tracker: str = "dio-praat"  # DIO with its octave checked by Praat (see track_f0)
    f0_min: float = 40.0  # quantizer range (log-uniform)
    f0_max: float = 2000.0
    aperiodicity_weight: float = 0.5  # weight of the ln-aperiodicity bands in k-means distance
    second_pitch: bool = False  # a second harmonic source (chords), coded last
    n_q: int = 8  # F0 codebook(s) + residual stages
    bins: int = 1024
    backend: str = "parametric"

    def __post_init__(self) -> None:
        least = 2 + self.second_pitch  # a residual stage, the F0 (and the second pitch)
        if self.n_q < least or self.bins < 2:
            raise ConfigError(
                f"parametric codec needs n_q >= {least} and bins >= 2, got {self.n_q}, {self.bins}."
            )
        if self.f0_tracker not in F0_TRACKERS:
            raise ConfigError(f"f0_tracker must be one of {F0_TRACKERS}, got {self.f0_tracker!r}.")
        if not 0 < self.f0_min < self.f0_max:
            raise ConfigError(f"f0_min must be below f0_max, got {self.f0_min}, {self.f0_max}.")

    @property
    def world(self) -> WorldSettings:
        return WorldSettings(
            sample_rate=self.sample_rate,
            frame_ms=1000 * self.hop_length / self.sample_rate,
            envelope_dims=self.envelope_dims,
            f0_floor=self.f0_floor,
            f0_ceil=self.f0_ceil,
            dio_allowed_range=self.dio_allowed_range,
            second_pitch=self.second_pitch,
            f0_tracker=self.f0_tracker,
        )

    @property
    def layout(self) -> list[Slot]:
        """What each codebook codes, coarse to fine (see the module docstring)."""
        stages = self.n_q - 1 - self.second_pitch
        slots: list[Slot] = [("residual", 0), ("pitch", 0)]
        slots += [("residual", stage) for stage in range(1, stages)]
        return slots + ([("pitch", 2)] if self.second_pitch else [])


class ParametricCodec(FittedCodec):
    """WORLD vocoder + residual k-means over the per-frame parameter vector (see module doc)."""

    def __init__(self, config: ParametricConfig) -> None:
        super().__init__(config)
        self.settings = config.world
        self.pitch_dims = self.settings.pitch_dims
        residual_dim = self.settings.dim - self.pitch_dims  # envelope + aperiodicity bands
        weights = torch.ones(residual_dim)
        weights[config.envelope_dims :] = config.aperiodicity_weight
        self.register_buffer("weights", weights)  # [R]
        self.register_buffer("mean", torch.zeros(residual_dim))  # [R], weighted space
        # [S, bins, R] residual codebooks in weighted, centred space; fitted, not trained
        stages = sum(kind == "residual" for kind, _ in config.layout)
        self.register_buffer("codebooks", torch.zeros(stages, config.bins, residual_dim))

    # ---- properties ------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.settings.dim

    # ---- analysis / synthesis ----------------------------------------------------------
    def _encode_chunk(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, 1, F*hop]`` -> WORLD parameters ``[B, D, F]``."""
        frames = wav.shape[-1] // self.hop_length
        items = [
            analyze(item.double().cpu().numpy(), frames, self.settings).T for item in wav[:, 0]
        ]
        return torch.from_numpy(np.stack(items)).float().to(wav.device)

    def _decode_chunk(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, D, F]`` -> ``[B, 1, F*hop]``."""
        items = [synthesize(item.T.double().cpu().numpy(), self.settings) for item in latent]
        return torch.from_numpy(np.stack(items)).float()[:, None].to(latent.device)

    # ---- fitting (tokgen fit codec) ----------------------------------------------------
    def fit_features(self, path: str) -> np.ndarray:
        """What fitting analyses of one clip: its WORLD parameters ``[F, D]`` (the latent)."""
        return self.encode_latent(path)[0].T.numpy()

    def fit_latent(self, features: np.ndarray, seed: int) -> np.ndarray:
        """The frames' latents ``[N, D]``: the analysed parameters themselves."""
        return features

    # ---- quantization ----------------------------------------------------------------
    def residual_vectors(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, D, F]`` -> weighted, centred ``[B, F, R]`` vectors the codebooks quantize."""
        return latent[:, self.pitch_dims :].transpose(1, 2) * self.weights - self.mean

    def _quantize(self, latent: torch.Tensor, num_codebooks: int) -> torch.Tensor:
        residual = self.residual_vectors(latent)  # [B, F, R]
        codes = []
        for kind, index in self.config.layout[:num_codebooks]:
            if kind == "pitch":
                codes.append(self.f0_codes(latent[:, index], latent[:, index + 1]))
                continue
            nearest_rows = nearest(residual, self.codebooks[index])  # [B, F]
            residual = residual - self.codebooks[index][nearest_rows]
            codes.append(nearest_rows)
        return torch.stack(codes, dim=1)  # [B, K, F]

    def _dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        batch, count, frames = codes.shape
        vector = self.mean.expand(batch, frames, -1).clone()  # [B, F, R]
        pitch = torch.zeros(batch, self.pitch_dims, frames, device=codes.device)
        pitch[:, 0::2] = math.log(self.config.f0_min)  # unvoiced (whispered) unless coded
        for (kind, index), column in zip(self.config.layout[:count], codes.unbind(1)):
            if kind == "pitch":
                pitch[:, index], pitch[:, index + 1] = self.f0_values(column)
            else:
                vector = vector + self.codebooks[index][column]
        spectral = (vector / self.weights).transpose(1, 2)  # [B, R, F]
        return torch.cat([pitch, spectral], dim=1)  # [B, D, F]

    def _f0_grid(self) -> tuple[float, float, int]:
        """The pitch quantizer: ``ln f0_min``, ``ln f0_max`` and its ``levels`` (code 0 is
        unvoiced; codes 1..levels are log-uniform steps between the two)."""
        low, high = math.log(self.config.f0_min), math.log(self.config.f0_max)
        return low, high, self.cardinality - 1

    def f0_codes(self, log_f0: torch.Tensor, voicing: torch.Tensor) -> torch.Tensor:
        """``ln F0 [B, F]`` and voicing ``[B, F]`` -> F0 codes ``[B, F]`` (0 = unvoiced)."""
        low, high, levels = self._f0_grid()
        position = ((log_f0 - low) / (high - low) * (levels - 1)).round().clamp(0, levels - 1)
        return torch.where(voicing >= 0.5, position.long() + 1, torch.zeros_like(position).long())

    def f0_values(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """F0 codes ``[B, F]`` -> ``ln F0 [B, F]`` and voicing ``[B, F]`` (0 or 1)."""
        low, high, levels = self._f0_grid()
        log_f0 = low + (codes.float() - 1).clamp(min=0) / (levels - 1) * (high - low)
        voicing = (codes > 0).float()
        return log_f0, voicing
