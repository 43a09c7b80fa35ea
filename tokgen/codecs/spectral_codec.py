"""The fine-spectrum codec: log STFT magnitudes, phase by Griffin-Lim, fitted k-means codes.

Nothing here is trained. Each 50 Hz frame is the log magnitude ``ln(|STFT| + floor)`` of a
``n_fft``-point Hann STFT (``S = n_fft // 2 + 1`` bins; frame ``i`` centred at sample
``i * hop``), which keeps what the audio judge recognises in music and sound events (0.93
of the originals' accuracy with 32 Griffin-Lim iterations, against 0.42 for WORLD
parameters; ``codecs/README.md``). The continuous latent ``[B, D, F]`` is either all ``S``
log magnitudes (``pca_dims = 0``) or their first ``pca_dims`` principal components (the
basis fitted with the codebooks): small enough for a generator to predict whole
(``tokgen-diffusion-small``). Codes ``[B, K, F]`` are residual k-means stages over the
centred latent (``tokgen fit codec --backend spectral``), coarse to fine; they lose most
of the fine detail (0.40 of the judge's accuracy at 4 stages of all bins), so the tokens
are a fallback and the latent is the point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio

from tokgen.codecs.fitted import FittedCodec, nearest
from tokgen.errors import ConfigError

PCA_SAMPLE = 100_000  # frames the PCA basis is fitted on (a seeded sample)


@dataclass
class SpectralConfig:
    """Everything that fixes the latent and the tokens; basis and codebooks are the state."""

    name: str = "tokgen-codec-16k-spectral"
    sample_rate: int = 16_000
    hop_length: int = 320  # 20 ms frames: 50 Hz
    n_fft: int = 1024  # 512 keeps 0.69 of the judge's accuracy at this hop, 1024 0.98
    floor: float = 1e-4  # added to magnitudes before the log (silence: ln 1e-4 = -9.2)
    griffin_lim_iters: int = 32  # judge ratio 0.93 (64: 0.98, 16: 0.87)
    pca_dims: int = 0  # 0: the latent is every bin; else its first principal components
    n_q: int = 4
    bins: int = 1024
    backend: str = "spectral"

    def __post_init__(self) -> None:
        if self.n_q < 1 or self.bins < 2:
            raise ConfigError(
                f"spectral codec needs n_q >= 1 and bins >= 2, got {self.n_q}, {self.bins}."
            )
        if self.n_fft < self.hop_length or self.griffin_lim_iters < 1 or self.floor <= 0:
            raise ConfigError(
                "spectral codec needs n_fft >= hop_length, griffin_lim_iters >= 1 and floor > 0; "
                f"got {self.n_fft}, {self.griffin_lim_iters}, {self.floor}."
            )
        if not 0 <= self.pca_dims <= self.n_fft // 2 + 1:
            raise ConfigError(
                f"pca_dims must be between 0 (off) and n_fft // 2 + 1, got {self.pca_dims}."
            )


class SpectralCodec(FittedCodec):
    """Log STFT magnitudes + Griffin-Lim + residual k-means (see module doc)."""

    def __init__(self, config: SpectralConfig) -> None:
        super().__init__(config)
        spectrum = config.n_fft // 2 + 1
        dim = config.pca_dims or spectrum
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        # [S] and orthonormal rows [D, S]: log magnitudes <-> latent (fitted when pca_dims)
        self.register_buffer("bin_mean", torch.zeros(spectrum))
        self.register_buffer("basis", torch.eye(spectrum)[:dim].clone())
        self.register_buffer("mean", torch.zeros(dim))  # [D]
        self.register_buffer("codebooks", torch.zeros(config.n_q, config.bins, dim))  # [K, N, D]

    # ---- properties ------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.basis.shape[0]

    # ---- analysis / synthesis ----------------------------------------------------------
    def log_magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, 1, F*hop]`` -> log magnitudes ``[B, S, F]``."""
        frames = wav.shape[-1] // self.hop_length
        n_fft, hop = self.config.n_fft, self.hop_length
        spec = torch.stft(wav[:, 0].float(), n_fft, hop, window=self.window, return_complex=True)
        return spec[..., :frames].abs().add(self.config.floor).log()  # [B, S, F + 1] cut to F

    def _encode_chunk(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, 1, F*hop]`` -> latent ``[B, D, F]``."""
        return self.basis @ (self.log_magnitude(wav) - self.bin_mean[:, None])

    def _decode_chunk(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, D, F]`` -> ``[B, 1, F*hop]`` (Griffin-Lim from a fixed start)."""
        frames = latent.shape[-1]
        log_mag = self.basis.T @ latent.float() + self.bin_mean[:, None]  # [B, S, F]
        magnitude = log_mag.clamp(max=20).exp().sub(self.config.floor).clamp_min(0)
        magnitude = torch.cat([magnitude, magnitude[..., -1:]], -1)  # the STFT's F*hop column
        n_fft, hop = self.config.n_fft, self.hop_length
        wav = torchaudio.functional.griffinlim(
            magnitude, self.window, n_fft, hop, n_fft, power=1.0,
            n_iter=self.config.griffin_lim_iters, momentum=0.99, length=frames * hop,
            rand_init=False,  # deterministic decoding
        )  # fmt: skip
        return torch.nan_to_num(wav)[:, None]

    # ---- fitting (tokgen fit codec) ----------------------------------------------------
    def fit_features(self, path: str) -> np.ndarray:
        """What fitting analyses of one clip: its log magnitudes ``[F, S]``."""
        wav, _ = self._prepare(path, None, None)  # [1, 1, F*hop]
        return self.log_magnitude(wav)[0].T.numpy()

    def fit_latent(self, features: np.ndarray, seed: int) -> np.ndarray:
        """Fit the PCA basis (when ``pca_dims``) on log magnitudes ``[N, S]`` and return
        the frames' latents ``[N, D]`` (with the basis as the fp16 checkpoint keeps it)."""
        frames = torch.from_numpy(features).float()
        if self.config.pca_dims:
            order = torch.randperm(len(frames), generator=torch.Generator().manual_seed(seed))
            sample = frames[order[:PCA_SAMPLE]]
            self.bin_mean.copy_(sample.mean(0).half().float())
            vh = torch.linalg.svd(sample - self.bin_mean, full_matrices=False).Vh
            self.basis.copy_(vh[: self.config.pca_dims].half().float())
        return ((frames - self.bin_mean) @ self.basis.T).numpy()

    # ---- quantization ----------------------------------------------------------------
    def residual_vectors(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, D, F]`` -> centred ``[B, F, D]`` vectors the codebooks quantize."""
        return latent.transpose(1, 2) - self.mean

    def _quantize(self, latent: torch.Tensor, num_codebooks: int) -> torch.Tensor:
        residual = self.residual_vectors(latent)  # [B, F, D]
        codes = []
        for book in self.codebooks[:num_codebooks]:
            rows = nearest(residual, book)  # [B, F]
            residual = residual - book[rows]
            codes.append(rows)
        return torch.stack(codes, dim=1)  # [B, K, F]

    def _dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        vector = sum(book[column] for book, column in zip(self.codebooks, codes.unbind(1)))
        return (vector + self.mean).transpose(1, 2)  # [B, D, F]
