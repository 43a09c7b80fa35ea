"""The spectral encoder: frame-exact shapes, exact chunked encoding, its keys in the token hash."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import tone

from tokgen.codecs import registry
from tokgen.codecs.spectral_encoder import SpectralEncoder


@pytest.fixture
def spectral_codec():
    config = registry.CODECS["tokgen-codec-debug"].config
    config = dataclasses.replace(
        config,
        encoder="spectral",
        encoder_dim=16,
        encoder_layers=2,
        decoder="vocos",
        decoder_dim=16,
        decoder_layers=2,
    )
    torch.manual_seed(0)
    return registry.build_codec(config).eval()


def test_one_latent_frame_per_hop():
    encoder = SpectralEncoder(8, 320, dim=16, layers=1, channels=2)
    assert encoder(torch.randn(3, 2, 7 * 320)).shape == (3, 8, 7)


def test_spectral_codec_encodes_in_chunks_exactly(spectral_codec, monkeypatch):
    wav = tone(3.0)[None]  # [1, 1, 48000]
    codes = spectral_codec.encode(wav, 16_000)
    assert codes.shape == (1, 4, 150)
    assert spectral_codec.decode(codes, length=wav.shape[-1]).shape == wav.shape
    monkeypatch.setattr(spectral_codec, "chunk_seconds", 1.0)
    monkeypatch.setattr(spectral_codec, "context_seconds", 0.5)  # > the 9-frame reach
    assert torch.equal(spectral_codec.encode(wav, 16_000), codes)


def test_encoder_keys_are_part_of_the_token_hash(spectral_codec):
    seanet = registry.build_codec(registry.CODECS["tokgen-codec-debug"].config)
    assert spectral_codec.config_hash != seanet.config_hash
    wider = dataclasses.replace(spectral_codec.config, encoder_dim=32)
    assert registry.build_codec(wider).config_hash != spectral_codec.config_hash
    # a SEANet codec ignores the spectral encoder's settings
    unused = dataclasses.replace(seanet.config, encoder_dim=32)
    assert registry.build_codec(unused).config_hash == seanet.config_hash


def test_unknown_encoder_is_refused():
    config = dataclasses.replace(registry.CODECS["tokgen-codec-debug"].config, encoder="mel")
    with pytest.raises(Exception, match="encoder must be one of"):
        registry.build_codec(config)
