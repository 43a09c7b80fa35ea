"""The fine-spectrum codec: log STFT magnitudes, phase by Griffin-Lim, fitted k-means codes.

Nothing here is trained. The continuous latent ``[B, D, F]`` is the log magnitude
``ln(|STFT| + floor)`` of a ``n_fft``-point Hann STFT on the codec's 50 Hz frame grid
(``D = n_fft // 2 + 1`` bins; frame ``i`` centred at sample ``i * hop``), which keeps what
the audio judge recognises in music and sound events (0.93 of the originals' accuracy with
32 Griffin-Lim iterations, against 0.42 for WORLD parameters; ``codecs/README.md``). It is
the latent that ``tokgen-diffusion-small`` models. Codes ``[B, K, F]`` are residual k-means
stages over the centred latent (``tokgen fit codec --backend spectral``), coarse to fine;
they lose most of that detail (0.47 of it at 4 stages, 0.58 at 9), so the tokens are a fallback and
the latent is the point.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio

from tokgen.codecs.base import Codec, CodecOutput
from tokgen.codecs.parametric_codec import nearest
from tokgen.errors import ConfigError


@dataclass
class SpectralConfig:
    """Everything that fixes the latent and the tokens; the codebooks are the state dict."""

    name: str = "tokgen-codec-16k-spectral"
    sample_rate: int = 16_000
    hop_length: int = 320  # 20 ms frames: 50 Hz
    n_fft: int = 1024  # 512 keeps 0.69 of the judge's accuracy at this hop, 1024 0.98
    floor: float = 1e-4  # added to magnitudes before the log (silence: ln 1e-4 = -9.2)
    griffin_lim_iters: int = 32  # judge ratio 0.93 (64: 0.98, 16: 0.87)
    n_q: int = 4  # 4 x 1,024 x 513 fp16 codebooks: 4.2 MB
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


class SpectralCodec(Codec):
    """Log STFT magnitudes + Griffin-Lim + residual k-means (see module doc)."""

    def __init__(self, config: SpectralConfig) -> None:
        super().__init__(config)
        dim = config.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.register_buffer("mean", torch.zeros(dim))  # [D]
        self.register_buffer("codebooks", torch.zeros(config.n_q, config.bins, dim))  # [S, N, D]

    # ---- properties ------------------------------------------------------------------
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
    def latent_dim(self) -> int:
        return self.config.n_fft // 2 + 1

    @property
    def device(self) -> torch.device:
        return self.codebooks.device

    # ---- analysis / synthesis ----------------------------------------------------------
    def _encode_chunk(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, 1, F*hop]`` -> log magnitudes ``[B, D, F]``."""
        frames = wav.shape[-1] // self.hop_length
        spec = torch.stft(
            wav[:, 0].float(),
            self.config.n_fft,
            self.hop_length,
            window=self.window,
            return_complex=True,
        )  # [B, D, F + 1]  fmt: skip
        return spec[..., :frames].abs().add(self.config.floor).log()

    def _decode_chunk(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, D, F]`` -> ``[B, 1, F*hop]`` (Griffin-Lim from a fixed start)."""
        frames = latent.shape[-1]
        magnitude = latent.float().clamp(max=20).exp().sub(self.config.floor).clamp_min(0)
        magnitude = torch.cat([magnitude, magnitude[..., -1:]], -1)  # the STFT's F*hop column
        n_fft, hop = self.config.n_fft, self.hop_length
        wav = torchaudio.functional.griffinlim(
            magnitude, self.window, n_fft, hop, n_fft, power=1.0,
            n_iter=self.config.griffin_lim_iters, momentum=0.99, length=frames * hop,
            rand_init=False,  # deterministic decoding
        )  # fmt: skip
        return torch.nan_to_num(wav)[:, None]

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

    def forward(self, wav: torch.Tensor, num_codebooks: int | None = None) -> CodecOutput:
        raise ConfigError(
            f"{self.name} is fitted, not trained: fit its codebooks with "
            "`tokgen fit codec --backend spectral`."
        )
