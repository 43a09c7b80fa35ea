"""Virtual voices for duration TTS training: the same random voice change on a clip's latent
and its prompt's, so the network learns to follow the voice vector rather than recall the
few voices of the corpus.

A speaker differs from another mostly by pitch and by vocal tract length, which scales the
formant frequencies (VTLP, Jaitly & Hinton 2013). Both are simple operations on the
parametric codec's latent ``[D, F]``: ln F0 moves by a constant, and the coded envelope
(``pyworld.code_spectral_envelope``: a linear map of the log spectrum) is frequency-warped
by a fixed matrix, ``x + C (W_a - I) D x`` (decode ``D``, warp the log spectrum's frequency
axis by ``a``, code ``C``; ``a = 1`` is exactly the identity).
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

import numpy as np
import torch

from tokgen.codecs.world_vocoder import WorldSettings
from tokgen.errors import ConfigError

WARP_STEPS = 33  # warp factors precomputed over [1/max, max] (log-spaced)


@dataclass(frozen=True)
class VoiceChange:
    """A virtual voice: ``pitch`` (added to ln F0) and ``warp`` (formant frequency factor)."""

    pitch: float = 0.0
    warp: float = 1.0


def random_change(rng: random.Random, probability: float, pitch: float, warp: float) -> VoiceChange:
    """With ``probability``, a change with ln F0 shift in ``[-pitch, pitch]`` and a warp
    factor log-uniform in ``[exp(-warp), exp(warp)]`` on the grid; else no change."""
    if rng.random() >= probability:
        return VoiceChange()
    step = rng.randrange(WARP_STEPS)
    return VoiceChange(rng.uniform(-pitch, pitch), _warp_grid(warp)[step])


def _warp_grid(warp: float) -> list[float]:
    return [math.exp(v) for v in np.linspace(-warp, warp, WARP_STEPS)]


@functools.lru_cache(maxsize=4 * WARP_STEPS)
def warp_matrix(settings: WorldSettings, factor: float) -> torch.Tensor:
    """``[E, E]`` matrix moving coded envelopes' formants by ``factor`` (``E`` =
    ``settings.envelope_dims``)."""
    import pyworld

    fs, dims, bins = settings.sample_rate, settings.envelope_dims, settings.fft_size // 2 + 1
    decode = np.log(
        pyworld.decode_spectral_envelope(np.ascontiguousarray(np.eye(dims)), fs, settings.fft_size)
    ).T  # [bins, E]: log spectrum of each coded unit vector (decoding is linear in logs)
    code = pyworld.code_spectral_envelope(np.ascontiguousarray(np.exp(np.eye(bins))), fs, dims).T
    freqs = np.arange(bins, dtype=np.float64)
    source = np.clip(freqs / factor, 0, bins - 1)  # the warped spectrum at f is the old one at f/a
    warp = np.zeros((bins, bins))
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, bins - 1)
    frac = source - low
    warp[np.arange(bins), low] += 1 - frac
    warp[np.arange(bins), high] += frac
    matrix = np.eye(dims) + code @ (warp - np.eye(bins)) @ decode
    return torch.from_numpy(matrix).float()


def world_settings(codec_name: str) -> WorldSettings:
    """The WORLD settings of the parametric codec ``codec_name`` (a clear error for others)."""
    from tokgen.codecs import load_codec

    settings = getattr(load_codec(codec_name), "settings", None)
    if not isinstance(settings, WorldSettings):
        raise ConfigError(
            f"voice augmentation changes a parametric codec's latent; {codec_name!r} is not one: "
            "set data.voice_augment: 0."
        )
    return settings


def apply_change(
    latent: torch.Tensor, change: VoiceChange, settings: WorldSettings
) -> torch.Tensor:
    """``latent [D, F]`` of the parametric codec in the voice ``change`` makes of it."""
    if change == VoiceChange():
        return latent
    if latent.shape[0] != settings.dim:
        raise ConfigError(
            f"voice augmentation needs the parametric codec's {settings.dim}-d latent, got "
            f"{latent.shape[0]} channels; set data.voice_augment: 0 for other codecs."
        )
    out = latent.float().clone()
    out[0 : settings.pitch_dims : 2] += change.pitch  # ln F0 (and the second pitch's)
    start, end = settings.pitch_dims, settings.pitch_dims + settings.envelope_dims
    out[start:end] = warp_matrix(settings, change.warp) @ out[start:end]
    return out.to(latent.dtype)
