"""Separation by masking (tokgen.decoders.mask): the generated source masks the mixture."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import tone

import tokgen
from tokgen.decoders import MaskDecoder, apply_mask
from tokgen.errors import ConfigError
from tokgen.eval.metrics import si_sdr

SR = 16_000


def _sources(length: int) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.arange(length) / SR
    voice = 0.3 * torch.sin(2 * math.pi * 220 * t) * (1 + torch.sin(2 * math.pi * 3 * t))
    noise = 0.1 * torch.randn(length, generator=torch.Generator().manual_seed(0))
    return voice, noise


@pytest.mark.parametrize("kind", ["ratio", "wiener"])
def test_a_mask_from_the_true_source_separates_it(kind):
    voice, noise = _sources(SR + 123)  # an odd length survives the STFT round trip
    mixture = voice + noise
    out = apply_mask(voice[None], mixture[None], kind=kind)[0]
    assert out.shape == mixture.shape
    assert si_sdr(voice, out) - si_sdr(voice, mixture) > 10.0
    silent = apply_mask(torch.zeros_like(voice)[None], mixture[None], kind=kind)[0]
    assert silent.abs().max() < 1e-4


def test_bad_mask_settings_are_refused(debug_codec):
    with pytest.raises(ConfigError, match="kind"):
        apply_mask(torch.zeros(1, 800), torch.zeros(1, 800), kind="binary")
    with pytest.raises(ConfigError, match="n_fft"):
        MaskDecoder(debug_codec, n_fft=4)
    with pytest.raises(ConfigError, match="unknown decoder 'nope'"):
        tokgen.load("tokgen-lm-debug", decoder="nope")


def test_lass_masks_the_mixture_by_default_and_resynthesizes_on_request():
    masked_model = tokgen.load("tokgen-lm-debug")
    plain_model = tokgen.load("tokgen-lm-debug", decoder="codec")
    mixture = tone(0.7, SR)[0] + 0.05 * torch.randn(round(0.7 * SR))  # [T]
    masked = masked_model.generate("lass", "a tone", audio=mixture, sample_rate=SR, seed=0)
    plain = plain_model.generate("lass", "a tone", audio=mixture, sample_rate=SR, seed=0)
    torch.testing.assert_close(masked.codes, plain.codes)  # the same model, decoded two ways
    assert masked.audio.shape == plain.audio.shape  # as long as the mixture's frames
    length = masked.lengths[0]
    padded = torch.nn.functional.pad(mixture, (0, length - len(mixture)))[None]
    expected = apply_mask(plain.audio[0, :, :length], padded)
    torch.testing.assert_close(masked.audio[0, :, :length], expected)
    assert not torch.allclose(masked.audio, plain.audio)
    # tasks without a mixture decode as the codec does
    kwargs = {"audio": (tone(1.0, SR), SR), "duration": 0.3, "seed": 0}
    torch.testing.assert_close(
        masked_model.generate("continuation", **kwargs).audio,
        plain_model.generate("continuation", **kwargs).audio,
    )
