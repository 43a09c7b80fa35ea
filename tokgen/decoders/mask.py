"""Separation by masking: the generated source shapes a time-frequency mask that is applied
to the mixture's own STFT (the mixture's phase), instead of resynthesizing the source.

A codec that keeps no phase (the parametric ``tokgen-codec-16k``) cannot copy the
waveform of a source out of a mixture, but its magnitudes can say which bins of the
mixture belong to the source. For tasks without a mixture the codec decodes as usual.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from tokgen import audio as audio_io
from tokgen.codecs import Codec
from tokgen.decoders.base import CodecDecoder
from tokgen.errors import ConfigError

MaskKind = Literal["ratio", "wiener"]
MASK_KINDS: tuple[MaskKind, ...] = ("ratio", "wiener")
DEFAULT_INPUTS = {"lass": "audio"}  # task -> the condition that holds its mixture
EPS = 1e-8


def stft(x: torch.Tensor, n_fft: int = 512) -> torch.Tensor:
    """``x [..., T]`` -> complex ``[..., n_fft // 2 + 1, T // hop + 1]``: Hann window, hop
    ``n_fft // 4`` (the STFT every mask in tokgen is applied on)."""
    window = torch.hann_window(n_fft, device=x.device)
    flat = x.reshape(-1, x.shape[-1])
    spec = torch.stft(flat, n_fft, n_fft // 4, window=window, return_complex=True)
    return spec.reshape(*x.shape[:-1], *spec.shape[-2:])


def istft(spec: torch.Tensor, length: int, n_fft: int = 512) -> torch.Tensor:
    """The inverse of :func:`stft`: ``[..., bins, frames]`` -> ``[..., length]``."""
    window = torch.hann_window(n_fft, device=spec.device)
    flat = spec.reshape(-1, *spec.shape[-2:])
    wav = torch.istft(flat, n_fft, n_fft // 4, window=window, length=length)
    return wav.reshape(*spec.shape[:-2], length)


def apply_mask(
    source: torch.Tensor, mixture: torch.Tensor, *, n_fft: int = 512, kind: MaskKind = "ratio"
) -> torch.Tensor:
    """Keep of ``mixture [C, T]`` what ``source [C, T]`` (an estimate of one of its sources)
    says is there: per STFT bin, ``ratio`` = min(|S| / |X|, 1), or ``wiener`` =
    |S|^2 / (|S|^2 + max(|X| - |S|, 0)^2). Returns ``[C, T]`` with the mixture's phase."""
    s, x = stft(source, n_fft).abs(), stft(mixture, n_fft)
    if kind == "ratio":
        mask = (s / (x.abs() + EPS)).clamp(max=1.0)
    elif kind == "wiener":
        rest = (x.abs() - s).clamp(min=0.0)
        mask = s**2 / (s**2 + rest**2 + EPS)
    else:
        raise ConfigError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}.")
    return istft(x * mask, mixture.shape[-1], n_fft)


class MaskDecoder(CodecDecoder):
    """The codec's decoder, and for tasks in ``inputs`` (task -> the condition holding the
    mixture) the decoded source turned into a mask on that mixture (:func:`apply_mask`)."""

    def __init__(
        self,
        codec: Codec,
        *,
        inputs: dict[str, str] | None = None,
        n_fft: int = 512,
        kind: MaskKind = "ratio",
    ) -> None:
        super().__init__(codec)
        if kind not in MASK_KINDS or n_fft < 16:
            raise ConfigError(f"mask decoder: kind one of {MASK_KINDS} and n_fft >= 16, got "
                              f"{kind!r}, {n_fft}.")  # fmt: skip
        self.inputs = dict(DEFAULT_INPUTS if inputs is None else inputs)
        self.n_fft = n_fft
        self.kind: MaskKind = kind

    def decode(self, codes: torch.Tensor, arguments: dict[str, Any]) -> torch.Tensor:
        source = super().decode(codes, arguments)  # [C, T]
        name = self.inputs.get(arguments.get("task", ""))
        if name is None or arguments.get(name) is None:
            return source
        mixture = self.mixture(arguments[name], arguments.get("sample_rate"), source.shape[-1])
        return apply_mask(source, mixture, n_fft=self.n_fft, kind=self.kind)

    def mixture(self, value: Any, sample_rate: int | None, length: int) -> torch.Tensor:
        """The caller's mixture (path, tensor, tuple) at the codec's rate, cut or zero-padded
        to ``length`` samples: ``[C, length]``."""
        clip = audio_io.load(
            value,
            audio_io.rate_of_samples(value, sample_rate),
            target_sample_rate=self.sample_rate,
            channels=self.channels,
            max_seconds=None,
        )
        wav = clip.samples[0, :, :length]  # [C, T]
        return torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))
