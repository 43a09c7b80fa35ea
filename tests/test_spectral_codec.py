"""The fine-spectrum codec (log STFT magnitudes + Griffin-Lim + fitted k-means): tiny fits."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from signals import chord_partials, harmonic_tone, voice, write_clips

import tokgen
from tokgen.codecs.spectral_codec import SpectralCodec, SpectralConfig
from tokgen.errors import CodesError, ConfigError, TokgenError
from tokgen.training.codebook_fit import FitSettings, fit_codec

SR = 16_000
TINY = SpectralConfig(name="tokgen-codec-spectral-tiny", bins=16, n_q=3, griffin_lim_iters=8)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A tiny codec fitted on 3 seeded clips; returns (codec, work folder, manifest)."""
    root = tmp_path_factory.mktemp("fit")
    manifest = write_clips(
        root, [voice(1.0, f0, i) for i, f0 in enumerate((110.0, 240.0, 500.0))], "music"
    )
    out = root / "run"
    model = fit_codec(manifest, out, TINY, FitSettings(iterations=4, jobs=1))
    return tokgen.load_codec(model), out, manifest


def test_properties(fitted):
    codec, _, _ = fitted
    assert isinstance(codec, SpectralCodec)
    assert (codec.sample_rate, codec.frame_rate, codec.cardinality) == (SR, 50.0, 16)
    assert codec.num_codebooks == 3 and codec.latent_dim == 513


def test_roundtrip_shapes_and_exact_lengths(fitted):
    codec, _, _ = fitted
    for length in (3_201, 8_000, 12_345):
        wav = torch.from_numpy(voice(length / SR, 150.0, 7))
        codes = codec.encode(wav, sample_rate=SR)
        assert codes.shape == (1, 3, math.ceil(length / 320)) and codes.dtype == torch.long
        assert int(codes.min()) >= 0 and int(codes.max()) < 16
        audio = codec.decode(codes, length=length)
        assert audio.shape == (1, 1, length) and torch.isfinite(audio).all()
        latent = codec.encode_latent(wav, sample_rate=SR)
        assert latent.shape == (1, 513, math.ceil(length / 320))
        assert codec.decode_latent(latent, length=length).shape == (1, 1, length)


def test_latent_keeps_both_tones_of_a_chord():
    """The point of this codec: the fine spectrum survives (a single-F0 code loses a tone)."""
    codec = SpectralCodec(SpectralConfig())
    notes = (220.0, 277.0)
    chord = torch.from_numpy(harmonic_tone(notes[0]) + harmonic_tone(notes[1])).float()
    latent = codec.encode_latent(chord, sample_rate=SR)
    assert latent[0, :, 50].argmax().item() == round(220 / (SR / 1024))  # the louder partial
    out = codec.decode_latent(latent, length=len(chord))[0, 0].numpy()
    levels, decoded = (chord_partials(x, notes, width=15) for x in (chord.numpy(), out))
    assert all(abs(a - b) < 6 for a, b in zip(levels, decoded)), (levels, decoded)
    again = codec.encode_latent(torch.from_numpy(out), sample_rate=SR)
    assert (again - latent)[0, :100, 10:-10].abs().mean() < 1.0  # nepers, below 2 kHz


@pytest.mark.parametrize(
    "name,wav",
    [
        ("silence", np.zeros(SR, np.float32)),
        ("noise", np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.5),
        ("clipping", np.clip(voice(1.0, 150.0, 2) * 20, -1, 1)),
        ("very high pitch", voice(1.0, 1800.0, 5)),
    ],
)
def test_hard_inputs_stay_finite(fitted, name, wav):
    codec, _, _ = fitted
    audio = codec.decode(codec.encode(torch.from_numpy(wav), sample_rate=SR), length=len(wav))
    assert torch.isfinite(audio).all() and audio.abs().max() < 10, name
    latent = codec.encode_latent(torch.from_numpy(wav), sample_rate=SR)
    audio = codec.decode_latent(latent, length=len(wav))
    assert torch.isfinite(audio).all() and audio.abs().max() < 10, name
    if name == "silence":
        assert audio.abs().max() < 1e-3


def test_decoding_is_deterministic_and_chunked_encoding_matches(fitted):
    codec, _, _ = fitted
    wav = torch.from_numpy(np.concatenate([voice(1.0, f, i) for i, f in enumerate((120, 300))]))
    codes = codec.encode(wav, sample_rate=SR)
    assert torch.equal(codec.decode(codes), codec.decode(codes))
    chunked = SpectralCodec(codec.config)
    chunked.load_state_dict(codec.state_dict())
    chunked.chunk_seconds, chunked.context_seconds = 0.8, 0.4
    assert torch.allclose(
        chunked.encode_latent(wav, sample_rate=SR), codec.encode_latent(wav, sample_rate=SR),
        atol=1e-4,
    )  # fmt: skip


def test_golden_codes_and_resumed_fit(fitted, tmp_path):
    codec, out, manifest = fitted
    codes = codec.encode(torch.from_numpy(voice(0.6, 150.0, 11)), sample_rate=SR)
    digest = hashlib.sha256(codes.numpy().astype(np.int64).tobytes()).hexdigest()[:16]
    assert (codes[0, :, 10].tolist(), digest) == (GOLDEN_FRAME_10, GOLDEN_DIGEST)
    (out / "stages" / "stage-01.npy").unlink()  # as if killed before stage 1 was written
    resumed = tokgen.load_codec(fit_codec(manifest, out, TINY, FitSettings(iterations=4, jobs=1)))
    assert torch.equal(resumed.codebooks, codec.codebooks)
    codec.save_pretrained(tmp_path / "again")
    again = tokgen.load_codec(tmp_path / "again")
    assert again.config_hash == codec.config_hash
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in codec.state_dict().items())


GOLDEN_FRAME_10 = [14, 3, 6]
GOLDEN_DIGEST = "df082e61fb7d6138"


def test_bad_inputs_raise_clear_errors(fitted):
    codec, _, _ = fitted
    with pytest.raises(CodesError, match="span"):
        codec.decode(torch.full((1, 3, 10), 16))
    with pytest.raises(TokgenError, match="fitted, not trained"):
        codec(torch.zeros(1, 1, 320))
    with pytest.raises(TokgenError, match="latent"):
        codec.decode_latent(torch.zeros(1, 47, 10))
    with pytest.raises(ConfigError, match="n_fft"):
        SpectralConfig(n_fft=256)
    with pytest.raises(ConfigError, match="n_q"):
        SpectralConfig(n_q=0)


def test_a_pca_latent_is_fitted_orthonormal_and_deterministic(fitted, tmp_path):
    _, _, manifest = fitted
    config = SpectralConfig(name="tokgen-codec-spectral-pca", bins=16, n_q=2, pca_dims=8)
    settings = FitSettings(iterations=4, jobs=1)
    codec = tokgen.load_codec(fit_codec(manifest, tmp_path / "a", config, settings))
    again = tokgen.load_codec(fit_codec(manifest, tmp_path / "b", config, settings))
    assert codec.latent_dim == 8 and torch.equal(codec.basis, again.basis)
    torch.testing.assert_close(codec.basis @ codec.basis.T, torch.eye(8), atol=2e-3, rtol=0)
    wav = torch.from_numpy(voice(0.5, 240.0, 1))
    latent = codec.encode_latent(wav, sample_rate=SR)
    assert latent.shape == (1, 8, 25) and codec.encode(wav, sample_rate=SR).shape == (1, 2, 25)
    assert codec.decode_latent(latent, length=len(wav)).shape == (1, 1, len(wav))
    with pytest.raises(ConfigError, match="pca_dims"):
        SpectralConfig(pca_dims=600)


def test_shipped_spectral_codec_keeps_a_chord():
    codec = tokgen.load_codec("tokgen-codec-16k-spectral")
    assert isinstance(codec, SpectralCodec) and codec.num_codebooks == 4
    assert codec.latent_dim == 96 and codec.codebooks.abs().sum() > 0  # fitted
    notes = (262.0, 392.0)
    chord = torch.from_numpy(harmonic_tone(notes[0]) + harmonic_tone(notes[1])).float()
    out = codec.decode_latent(codec.encode_latent(chord, sample_rate=SR))[0, 0].numpy()
    levels, decoded = (chord_partials(x, notes, width=15) for x in (chord.numpy(), out))
    assert all(abs(a - b) < 10 for a, b in zip(levels, decoded)), (levels, decoded)
