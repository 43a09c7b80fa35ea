"""The abstract :class:`Codec`: audio ``[B, C, T]`` <-> codes ``[B, K, F]`` and latents ``[B, D, F]``.

Backends implement four per-chunk primitives (``_encode_chunk``, ``_decode_chunk``,
``_quantize``, ``_dequantize``) plus a training ``forward``; this class owns input
validation, resampling, padding, bandwidth selection and chunking, so every backend
behaves the same:

* ``encode`` returns ``F = ceil(T / hop_length)`` frames (at the codec's sample rate);
* ``decode(codes, length=T)`` returns exactly ``T`` samples (``F * hop_length`` without it);
* long inputs are processed in chunks of ``chunk_seconds`` with ``context_seconds`` of
  overlap on each side that is computed and dropped, so memory stays flat::

      frames   |<-ctx->|<====== chunk ======>|<-ctx->|
      kept             |<====== chunk ======>|
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tokgen import audio as audio_io
from tokgen.checks import integer, number
from tokgen.errors import CodesError, InvalidInputError
from tokgen.hub import config_hash, config_to_dict, save_checkpoint


@dataclass
class CodecOutput:
    """What a codec's training ``forward`` returns."""

    audio: torch.Tensor  # [B, C, T] reconstruction
    codes: torch.Tensor  # [B, K, F]
    commitment_loss: torch.Tensor  # scalar; quantizer penalty to add to the loss
    magnitude: torch.Tensor | None = None  # [B*C, bins, F]: an STFT decoder's own magnitudes


class Codec(nn.Module, ABC):
    """A neural audio codec. See the module docstring for the shape contract."""

    chunk_seconds: float = 30.0
    context_seconds: float = 1.0

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self._num_codebooks = self.max_codebooks

    # ---- properties every backend defines -------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @property
    @abstractmethod
    def channels(self) -> int: ...

    @property
    @abstractmethod
    def hop_length(self) -> int:
        """Samples per frame."""

    @property
    @abstractmethod
    def max_codebooks(self) -> int:
        """Codebooks the quantizer has."""

    @property
    @abstractmethod
    def cardinality(self) -> int:
        """Entries per codebook; codes are in ``[0, cardinality)``."""

    @property
    @abstractmethod
    def latent_dim(self) -> int:
        """``D`` of the continuous pre-quantization latent ``[B, D, F]``."""

    # ---- derived properties ----------------------------------------------------------
    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def num_codebooks(self) -> int:
        """Codebooks ``encode`` emits by default (<= ``max_codebooks``)."""
        return self._num_codebooks

    @property
    def bandwidth(self) -> float:
        """Bitrate in kbps at the default number of codebooks."""
        return self.bandwidth_for(self.num_codebooks)

    def bandwidth_for(self, num_codebooks: int) -> float:
        return num_codebooks * math.log2(self.cardinality) * self.frame_rate / 1000

    def set_num_codebooks(self, num_codebooks: int) -> None:
        """Make ``encode`` emit ``num_codebooks`` codebooks by default."""
        self._num_codebooks = self.check_num_codebooks(num_codebooks)

    def set_bandwidth(self, kbps: float) -> None:
        """Use as many codebooks as fit in ``kbps`` (at least one)."""
        self.set_num_codebooks(self._codebooks_for_bandwidth(kbps))

    def _codebooks_for_bandwidth(self, kbps: float) -> int:
        per_codebook = self.bandwidth_for(1)
        kbps = number("bandwidth", kbps)
        count = math.floor(kbps / per_codebook + 1e-9)
        if kbps <= 0 or count < 1:
            raise InvalidInputError(
                f"bandwidth {kbps:g} kbps is below one codebook of {self.name} "
                f"({per_codebook:g} kbps); use at least that."
            )
        if count > self.max_codebooks:
            raise InvalidInputError(
                f"bandwidth {kbps:g} kbps is above what {self.name} can give "
                f"({self.bandwidth_for(self.max_codebooks):g} kbps with all "
                f"{self.max_codebooks} codebooks); use at most that."
            )
        return count

    def check_num_codebooks(self, num_codebooks: int) -> int:
        """``num_codebooks`` if this codec has that many (1..max), else InvalidInputError."""
        num_codebooks = integer("num_codebooks", num_codebooks)
        if not 1 <= num_codebooks <= self.max_codebooks:
            raise InvalidInputError(
                f"num_codebooks must be in 1..{self.max_codebooks} for {self.name}, "
                f"got {num_codebooks}."
            )
        return num_codebooks

    @property
    def token_config(self) -> dict[str, Any]:
        """The part of the config that determines the tokens (backends drop decoder-only keys)."""
        return config_to_dict(self.config)

    @property
    def config_hash(self) -> str:
        """Hash of :attr:`token_config`; stored with tokens to catch mismatched codecs."""
        return config_hash(self.token_config)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ---- backend primitives ----------------------------------------------------------
    @abstractmethod
    def _encode_chunk(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, C, F*hop]`` -> latent ``[B, D, F]``."""

    @abstractmethod
    def _decode_chunk(self, latent: torch.Tensor) -> torch.Tensor:
        """latent ``[B, D, F]`` -> ``[B, C, F*hop]``."""

    @abstractmethod
    def _quantize(self, latent: torch.Tensor, num_codebooks: int) -> torch.Tensor:
        """latent ``[B, D, F]`` -> codes ``[B, K, F]``."""

    @abstractmethod
    def _dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, K, F]`` -> quantized latent ``[B, D, F]``."""

    @abstractmethod
    def forward(self, wav: torch.Tensor, num_codebooks: int | None = None) -> CodecOutput:
        """Training pass on ``wav [B, C, T]`` (T a multiple of ``hop_length``).

        ``num_codebooks`` quantizes with the first K codebooks only (quantizer dropout);
        default all of them.
        """

    # ---- public inference API --------------------------------------------------------
    @torch.inference_mode()
    def encode(
        self,
        wav: audio_io.AudioInput,
        sample_rate: int | None = None,
        *,
        num_codebooks: int | None = None,
        bandwidth: float | None = None,
        max_seconds: float | None = None,
    ) -> torch.Tensor:
        """Audio -> codes ``[B, K, F]`` (int64), ``F = ceil(T / hop_length)``.

        ``wav`` is anything :func:`tokgen.audio.load` takes (``[T]``, ``[C, T]``,
        ``[B, C, T]`` with ``sample_rate=``, a path, ...); it is resampled and
        channel-converted to the codec's format. ``num_codebooks`` or ``bandwidth``
        (kbps) pick fewer codebooks than the default for this call.
        """
        if num_codebooks is not None and bandwidth is not None:
            raise InvalidInputError("pass num_codebooks or bandwidth, not both.")
        if bandwidth is not None:
            num_codebooks = self._codebooks_for_bandwidth(bandwidth)
        count = self.check_num_codebooks(
            self.num_codebooks if num_codebooks is None else num_codebooks
        )
        padded, _ = self._prepare(wav, sample_rate, max_seconds)
        return self._chunked(
            padded,
            lambda x: self._quantize(self._encode_chunk(x), count),
            in_hop=self.hop_length,
            out_hop=1,
        )

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        """Codes ``[B, K, F]`` (or ``[K, F]``) -> audio ``[B, C, T]`` at ``sample_rate``.

        ``T = length`` if given (the original sample count), else ``F * hop_length``.
        """
        codes = self._check_codes(codes)
        wav = self._chunked(
            codes,
            lambda c: self._decode_chunk(self._dequantize(c)),
            in_hop=1,
            out_hop=self.hop_length,
        )
        return self._trim(wav, length)

    @torch.inference_mode()
    def encode_latent(
        self,
        wav: audio_io.AudioInput,
        sample_rate: int | None = None,
        *,
        max_seconds: float | None = None,
    ) -> torch.Tensor:
        """Audio -> continuous pre-quantization latent ``[B, D, F]`` (for diffusion)."""
        padded, _ = self._prepare(wav, sample_rate, max_seconds)
        return self._chunked(padded, self._encode_chunk, in_hop=self.hop_length, out_hop=1)

    @torch.inference_mode()
    def quantize_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Continuous latent ``[B, D, F]`` -> the codes ``[B, K, F]`` that :meth:`encode`
        would give for it (a diffusion model's output as tokens)."""
        self._check_latent(latent)
        return self._quantize(latent.to(self.device, torch.float32), self.num_codebooks)

    @torch.inference_mode()
    def decode_latent(self, latent: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        """Continuous latent ``[B, D, F]`` -> audio ``[B, C, T]`` (decoded without quantizing)."""
        self._check_latent(latent)
        latent = latent.to(self.device, torch.float32)
        wav = self._chunked(latent, self._decode_chunk, in_hop=1, out_hop=self.hop_length)
        return self._trim(wav, length)

    def save_pretrained(self, path: str | Path, *, dtype: torch.dtype | None = None) -> Path:
        """Write ``config.json`` + ``model.safetensors``; ``tokgen.load_codec(path)`` reads it."""
        config = {**config_to_dict(self.config), "num_codebooks": self.num_codebooks}
        return save_checkpoint(path, config, self.state_dict(), dtype=dtype)

    # ---- helpers ---------------------------------------------------------------------
    def _prepare(
        self, wav: audio_io.AudioInput, sample_rate: int | None, max_seconds: float | None
    ) -> tuple[torch.Tensor, int]:
        """Load, convert and right-pad audio to whole frames: ``[B, C, F*hop]``, ``T``."""
        clip = audio_io.load(
            wav,
            sample_rate,
            target_sample_rate=self.sample_rate,
            channels=self.channels,
            max_seconds=max_seconds,
        )
        samples = clip.samples.to(self.device)
        length = samples.shape[-1]
        frames = math.ceil(length / self.hop_length)
        padded = nn.functional.pad(samples, (0, frames * self.hop_length - length))
        return padded, length

    def _check_latent(self, latent: torch.Tensor) -> None:
        if latent.ndim != 3 or latent.shape[1] != self.latent_dim:
            raise InvalidInputError(
                f"latent must be [B, {self.latent_dim}, F] for {self.name}, got {tuple(latent.shape)}."
            )
        if not torch.isfinite(latent).all():
            raise InvalidInputError("latent holds NaN or inf values; pass finite latents.")

    def _check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        if not isinstance(codes, torch.Tensor) or codes.is_floating_point() or codes.is_complex():
            raise CodesError("codes must be an integer tensor [B, K, F].")
        if codes.ndim == 2:
            codes = codes[None]
        if codes.ndim != 3 or codes.shape[-1] == 0:
            raise CodesError(f"codes must be [B, K, F] with F > 0, got {tuple(codes.shape)}.")
        if not 1 <= codes.shape[1] <= self.max_codebooks:
            raise CodesError(
                f"codes have {codes.shape[1]} codebooks; {self.name} has {self.max_codebooks}."
            )
        low, high = int(codes.min()), int(codes.max())
        if low < 0 or high >= self.cardinality:
            raise CodesError(
                f"codes span [{low}, {high}] but {self.name} codebooks hold "
                f"[0, {self.cardinality - 1}]; were they made by another codec?"
            )
        return codes.to(self.device, torch.long)

    def _trim(self, wav: torch.Tensor, length: int | None) -> torch.Tensor:
        if length is None:
            return wav
        if not 0 < length <= wav.shape[-1]:
            raise InvalidInputError(
                f"length must be in 1..{wav.shape[-1]} for {wav.shape[-1] // self.hop_length} "
                f"frames, got {length}."
            )
        return wav[..., :length]

    def _chunked(
        self,
        x: torch.Tensor,
        fn: Callable[[torch.Tensor], torch.Tensor],
        *,
        in_hop: int,
        out_hop: int,
    ) -> torch.Tensor:
        """Apply ``fn`` over ``x [B, *, F*in_hop]`` in overlapping frame chunks.

        ``fn`` maps ``n*in_hop`` steps to ``n*out_hop`` steps; returns ``[B, *', F*out_hop]``.
        """
        frames = x.shape[-1] // in_hop
        chunk = max(1, round(self.chunk_seconds * self.frame_rate))
        context = round(self.context_seconds * self.frame_rate)
        pieces = []
        for start in range(0, frames, chunk):
            stop = min(start + chunk, frames)
            lo, hi = max(0, start - context), min(frames, stop + context)
            y = fn(x[..., lo * in_hop : hi * in_hop])
            if y.shape[-1] != (hi - lo) * out_hop:
                raise RuntimeError(
                    f"{type(self).__name__} produced {y.shape[-1]} steps for {hi - lo} frames"
                )
            pieces.append(y[..., (start - lo) * out_hop : (stop - lo) * out_hop])
        return torch.cat(pieces, dim=-1)
