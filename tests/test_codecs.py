"""Codec interface: every backend's shapes, bandwidths, golden codes, save/load, chunking,
bad codes, token files and the offline failure of official downloads."""

from __future__ import annotations

import math
import time

import pytest
import torch
from conftest import tone

import tokgen
from tokgen import hub
from tokgen.codecs import registry
from tokgen.codecs.token_file import load_tokens, save_tokens
from tokgen.errors import CodesError, DownloadError, InvalidInputError, PretrainedNotFoundError

# (name, sample rate, frame rate, default codebooks, default kbps)
BACKENDS = [
    ("tokgen-codec-debug", 16_000, 50.0, 4, 1.2),
    ("tokgen-codec-16k", 16_000, 50.0, 9, 4.5),
    ("tokgen-codec-16k-seanet", 16_000, 50.0, 8, 4.0),
    ("encodec_24khz", 24_000, 75.0, 8, 6.0),
    ("encodec_48khz", 48_000, 150.0, 4, 6.0),
    ("dac_16khz", 16_000, 50.0, 12, 6.0),
    ("dac_24khz", 24_000, 75.0, 32, 24.0),
    ("dac_44khz", 44_100, 44_100 / 512, 9, 44_100 / 512 * 90 / 1000),
]


@pytest.mark.parametrize(("name", "rate", "frame_rate", "codebooks", "kbps"), BACKENDS)
def test_round_trip_shapes(name, rate, frame_rate, codebooks, kbps):
    codec = tokgen.load_codec(name, pretrained=False)
    assert (codec.sample_rate, codec.num_codebooks) == (rate, codebooks)
    assert codec.frame_rate == pytest.approx(frame_rate)
    assert codec.bandwidth == pytest.approx(kbps)
    assert codec.cardinality == 1024 or name == "tokgen-codec-debug"
    wav = torch.stack([tone(0.13, 16_000), tone(0.13, 16_000, freq=330)])  # [2, 1, 2080] at 16 kHz
    length = math.ceil(wav.shape[-1] * rate / 16_000)
    codes = codec.encode(wav, sample_rate=16_000)
    frames = math.ceil(length / codec.hop_length)
    assert codes.shape == (2, codebooks, frames)
    assert codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < codec.cardinality
    out = codec.decode(codes, length=length)
    assert out.shape == (2, codec.channels, length)
    assert codec.decode(codes).shape == (2, codec.channels, frames * codec.hop_length)
    latent = codec.encode_latent(wav, 16_000)
    assert latent.shape == (2, codec.latent_dim, frames)
    assert codec.decode_latent(latent, length=length).shape == (2, codec.channels, length)
    assert torch.isfinite(out).all()


def test_encodec_24khz_is_75hz_8_codebooks_at_6kbps():
    codec = tokgen.load_codec("encodec_24khz", pretrained=False)
    codes = codec.encode(torch.zeros(24_000), sample_rate=24_000)
    assert codes.shape == (1, 8, 75)
    assert codec.max_codebooks == 32
    assert codec.encode(torch.zeros(24_000), 24_000, bandwidth=24.0).shape == (1, 32, 75)


def test_silence_and_tiny_inputs_stay_finite(debug_codec):
    for samples in (1, 5, 320, 321):
        wav = torch.zeros(samples)
        codes = debug_codec.encode(wav, 16_000)
        assert codes.shape[-1] == math.ceil(samples / 320)
        out = debug_codec.decode(codes, length=samples)
        assert out.shape[-1] == samples and torch.isfinite(out).all()


def test_codebook_selection(debug_codec):
    wav = tone(0.2)
    full = debug_codec.encode(wav, 16_000)
    two = debug_codec.encode(wav, 16_000, num_codebooks=2)
    assert torch.equal(two, full[:, :2])  # residual VQ: fewer codebooks are a prefix
    assert debug_codec.encode(wav, 16_000, bandwidth=0.6).shape[1] == 2
    assert tokgen.load_codec("tokgen-codec-debug", num_codebooks=3).num_codebooks == 3
    assert debug_codec.decode(two).shape == (1, 1, 3200)
    for bad in ({"num_codebooks": 0}, {"num_codebooks": 5}, {"bandwidth": 0.1}):
        with pytest.raises(InvalidInputError):
            debug_codec.encode(wav, 16_000, **bad)
    with pytest.raises(InvalidInputError, match="not both"):
        debug_codec.encode(wav, 16_000, num_codebooks=2, bandwidth=0.6)


def test_golden_codes_of_the_debug_codec(debug_codec):
    """Seeded weights + fixed input -> fixed codes. Update only for an intended change."""
    codes = debug_codec.encode(tone(0.2), 16_000)
    assert codes.shape == (1, 4, 10)
    assert codes.unique().numel() > 10  # the debug codec uses its vocabulary
    assert codes[0, :, :4].tolist() == GOLDEN_FIRST_CODES
    assert int(codes.sum()) == GOLDEN_SUM
    again = tokgen.load_codec("tokgen-codec-debug").encode(tone(0.2), 16_000)
    assert torch.equal(codes, again)


GOLDEN_FIRST_CODES = [[1, 50, 5, 50], [27, 1, 26, 43], [26, 21, 34, 21], [18, 29, 9, 37]]
GOLDEN_SUM = 1173


def test_fresh_encoder_latents_carry_the_signal():
    """A new codec's latent must vary with its input (default conv init left ~1e-3 of it,
    and training collapsed onto one code)."""
    torch.manual_seed(0)
    codec = tokgen.load_codec("tokgen-codec-16k-seanet", pretrained=False)
    with torch.no_grad():
        latent = codec.encoder(0.1 * torch.randn(1, 1, 16_000))  # [1, D, F]
        quiet = codec.decoder(latent)  # [1, 1, T]
    assert latent.std(-1).mean() > 0.1
    assert quiet.abs().max() < 0.5  # the decoder starts near silence


def test_save_and_load_are_equal(tmp_path, debug_codec):
    debug_codec.set_num_codebooks(3)
    try:
        debug_codec.save_pretrained(tmp_path / "c")
    finally:
        debug_codec.set_num_codebooks(4)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = tokgen.load_codec(tmp_path / "c")
    assert loaded.num_codebooks == 3 and loaded.config == debug_codec.config
    for key, value in debug_codec.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    wav = tone(0.3)
    assert torch.equal(loaded.encode(wav, 16_000), debug_codec.encode(wav, 16_000, num_codebooks=3))


def test_fp16_checkpoint_is_half_the_size_and_close(tmp_path, debug_codec):
    debug_codec.save_pretrained(tmp_path / "fp32")
    debug_codec.save_pretrained(tmp_path / "fp16", dtype=torch.float16)
    size32 = (tmp_path / "fp32" / "model.safetensors").stat().st_size
    size16 = (tmp_path / "fp16" / "model.safetensors").stat().st_size
    assert size16 < 0.6 * size32
    half = tokgen.load_codec(tmp_path / "fp16")
    latent = debug_codec.encode_latent(tone(0.2), 16_000)
    error = (half.encode_latent(tone(0.2), 16_000) - latent).abs().max()
    assert error < 1e-2 * latent.abs().max()  # fp16 weights: within 1 % of the latent's range


def test_chunked_encoding_matches_whole_and_stays_bounded(debug_codec, monkeypatch):
    wav = torch.cat([tone(3.0, freq=f) for f in (110.0, 220.0, 440.0)], dim=-1)  # 9 s
    whole_codes = debug_codec.encode(wav, 16_000)  # chunk_seconds = 30: one chunk
    whole_audio = debug_codec.decode(whole_codes, length=wav.shape[-1])
    sizes: list[int] = []
    real = type(debug_codec)._encode_chunk

    def spy(self, x):
        sizes.append(x.shape[-1])
        return real(self, x)

    monkeypatch.setattr(type(debug_codec), "_encode_chunk", spy)
    monkeypatch.setattr(debug_codec, "chunk_seconds", 1.0)
    monkeypatch.setattr(debug_codec, "context_seconds", 0.5)
    chunked_codes = debug_codec.encode(wav, 16_000)
    chunked_audio = debug_codec.decode(chunked_codes, length=wav.shape[-1])
    assert chunked_codes.shape == whole_codes.shape == (1, 4, 450)
    assert len(sizes) == 9 and max(sizes) <= 2 * 16_000  # 1 s chunk + 2 x 0.5 s context
    assert (chunked_codes == whole_codes).float().mean() > 0.999
    assert chunked_audio.shape == whole_audio.shape
    assert torch.allclose(chunked_audio, whole_audio, atol=1e-4)


@pytest.mark.parametrize(
    ("codes", "match"),
    [
        (torch.full((1, 4, 5), 64), r"span \[64, 64\]"),
        (torch.full((1, 4, 5), -1), "span"),
        (torch.zeros(1, 5, 5, dtype=torch.long), "5 codebooks"),
        (torch.zeros(1, 4, 5), "integer"),
        (torch.zeros(1, 4, 0, dtype=torch.long), "F > 0"),
        (torch.zeros(4, dtype=torch.long), r"\[B, K, F\]"),
    ],
)
def test_bad_codes(debug_codec, codes, match):
    with pytest.raises(CodesError, match=match):
        debug_codec.decode(codes)


def test_bad_latent_and_length(debug_codec):
    with pytest.raises(InvalidInputError, match="latent"):
        debug_codec.decode_latent(torch.zeros(1, 3, 4))
    with pytest.raises(InvalidInputError, match="length"):
        debug_codec.decode(torch.zeros(1, 4, 2, dtype=torch.long), length=10_000)


def test_token_file_round_trip(tmp_path, debug_codec):
    codes = debug_codec.encode(tone(0.3), 16_000)
    path = save_tokens(tmp_path / "a.tokens", codes, debug_codec, [4800])
    tokens = load_tokens(path)
    assert torch.equal(tokens.codes, codes)
    assert (tokens.codec, tokens.sample_rate, tokens.num_samples) == (
        "tokgen-codec-debug",
        16_000,
        [4800],
    )
    tokens.check_codec(debug_codec)
    with pytest.raises(CodesError, match="config hash"):
        tokens.check_codec(tokgen.load_codec("tokgen-codec-16k", pretrained=False))
    (tmp_path / "junk.tokens").write_bytes(b"not safetensors")
    with pytest.raises(CodesError, match="not a tokgen token file"):
        load_tokens(tmp_path / "junk.tokens")


def test_unknown_codec_name():
    with pytest.raises(InvalidInputError, match="unknown codec"):
        tokgen.load_codec("no-such-codec")


def test_missing_shipped_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(PretrainedNotFoundError, match="tokgen train codec"):
        tokgen.load_codec("tokgen-codec-16k")


def test_offline_download_fails_fast_and_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKGEN_CACHE", str(tmp_path))
    monkeypatch.setenv("TOKGEN_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        tokgen.load_codec("encodec_24khz")
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "encodec_24khz-d7cc33bc.th" in message and "by hand" in message
    assert str(tmp_path / "encodec_24khz") in message


def test_unreachable_download_fails_fast(monkeypatch, tmp_path):
    """A real network attempt (to a closed local port) fails within seconds."""
    monkeypatch.setenv("TOKGEN_CACHE", str(tmp_path))
    monkeypatch.delenv("TOKGEN_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    entry = registry.CODECS["dac_16khz"]
    remote = registry.RemoteWeights(
        "http://127.0.0.1:9/weights_16khz.pth", None, entry.remote.convert
    )
    monkeypatch.setitem(
        registry.CODECS, "dac_16khz", registry.NamedCodec(entry.config, remote=remote)
    )
    start = time.monotonic()
    with pytest.raises(DownloadError, match="could not download"):
        tokgen.load_codec("dac_16khz")
    assert time.monotonic() - start < 15
    assert not list(tmp_path.rglob("*.partial"))


def test_cached_file_with_wrong_hash_is_rejected(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKGEN_CACHE", str(tmp_path))
    bad = tmp_path / "encodec_24khz" / "encodec_24khz-d7cc33bc.th"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="SHA-256"):
        tokgen.load_codec("encodec_24khz")
    assert not bad.exists()


def test_official_weights_load_from_cache_without_pickle(monkeypatch, tmp_path):
    """A state dict placed by hand in the cache is found, hash-checked and loaded."""
    monkeypatch.setenv("TOKGEN_CACHE", str(tmp_path))
    source = tokgen.load_codec("tokgen-codec-debug")
    file = tmp_path / "tiny" / "tiny.th"
    file.parent.mkdir()
    torch.save(source.state_dict(), file)
    digest = hub.sha256_file(file)[:8]
    entry = registry.NamedCodec(
        source.config, remote=registry.RemoteWeights("http://127.0.0.1:9/tiny.th", digest, dict)
    )
    monkeypatch.setitem(registry.CODECS, "tiny", entry)
    loaded = tokgen.load_codec("tiny")
    assert torch.equal(loaded.encode(tone(0.2), 16_000), source.encode(tone(0.2), 16_000))
