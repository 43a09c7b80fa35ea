"""The Vocos-style decoder: exact inverse STFT, shapes, chunked decoding, token-neutral config."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import tone

from tokgen.codecs import registry
from tokgen.codecs.vocos_decoder import InverseSTFT, VocosDecoder


def test_inverse_stft_inverts_a_same_padded_stft():
    n_fft, hop = 1280, 320
    wav = torch.randn(2, 20 * hop)
    pad = (n_fft - hop) // 2
    spec = torch.stft(
        torch.nn.functional.pad(wav, (pad, pad)),
        n_fft,
        hop_length=hop,
        window=torch.hann_window(n_fft),
        center=False,
        return_complex=True,
    )  # [2, n_fft//2+1, 20]: one column per frame
    assert spec.shape[-1] == 20
    assert torch.allclose(InverseSTFT(n_fft, hop)(spec), wav, atol=1e-5)


@pytest.mark.parametrize("n_fft", [1001, 1000])
def test_inverse_stft_needs_whole_hops_and_an_even_overlap(n_fft):
    with pytest.raises(ValueError, match="whole number of hops"):
        InverseSTFT(n_fft, 320)


@pytest.fixture
def vocos_codec():
    config = registry.CODECS["tokgen-codec-debug"].config
    config = dataclasses.replace(config, decoder="vocos", decoder_dim=16, decoder_layers=2)
    torch.manual_seed(0)
    return registry.build_codec(config).eval()


def test_vocos_codec_round_trips_and_chunks_exactly(vocos_codec, monkeypatch):
    wav = tone(3.0)[None]  # [1, 1, 48000]
    codes = vocos_codec.encode(wav, 16_000)
    whole = vocos_codec.decode(codes, length=wav.shape[-1])
    assert whole.shape == wav.shape and torch.isfinite(whole).all()
    monkeypatch.setattr(vocos_codec, "chunk_seconds", 1.0)
    monkeypatch.setattr(vocos_codec, "context_seconds", 0.5)  # > the 11-frame reach
    assert torch.allclose(vocos_codec.decode(codes, length=wav.shape[-1]), whole, atol=1e-5)


def test_decoder_settings_leave_the_token_hash_alone(vocos_codec):
    seanet = registry.build_codec(registry.CODECS["tokgen-codec-debug"].config)
    assert vocos_codec.config_hash == seanet.config_hash
    griffin_lim = dataclasses.replace(
        vocos_codec.config, decoder_phase="griffin_lim", decoder_griffin_lim_iters=4
    )
    assert registry.build_codec(griffin_lim).config_hash == seanet.config_hash
    other = dataclasses.replace(seanet.config, bins=32)
    assert registry.build_codec(other).config_hash != seanet.config_hash


def test_unknown_decoder_is_refused():
    config = dataclasses.replace(registry.CODECS["tokgen-codec-debug"].config, decoder="hifigan")
    with pytest.raises(Exception, match="decoder must be one of"):
        registry.build_codec(config)


def test_griffin_lim_recovers_the_phase_of_a_true_magnitude():
    decoder = VocosDecoder(16, 320, dim=8, layers=1, phase="griffin_lim").eval()
    wav = tone(1.0)  # [1, 16000]
    magnitude = decoder.stft(wav).abs()  # [1, 641, 50]
    zero_phase = decoder.synthesize(magnitude, torch.zeros_like(magnitude))[:, 0]
    rebuilt = decoder.stft(zero_phase).abs()
    assert (rebuilt - magnitude).norm() / magnitude.norm() < 0.1
    decoder.train()  # training decodes with the predicted phase: cheap and differentiable
    raw = decoder.synthesize(magnitude, torch.zeros_like(magnitude))[:, 0]
    assert (decoder.stft(raw).abs() - magnitude).norm() / magnitude.norm() > 0.3


def test_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="phase must be one of"):
        VocosDecoder(16, 320, phase="magic")
