"""The audio contract: every input form, conversions, saving, and every bad input."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone
from hypothesis import given, settings
from hypothesis import strategies as st

from tokgen import audio
from tokgen.errors import AudioFileError, InvalidAudioError


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_load_file_formats(tmp_path, suffix):
    path = tmp_path / f"x{suffix}"
    sf.write(path, tone(0.3, 16_000, channels=2).T.numpy(), 16_000)
    clip = audio.load(path)
    assert clip.samples.shape == (1, 2, 4800)
    assert clip.samples.dtype == torch.float32
    assert clip.sample_rate == 16_000
    assert clip.duration == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((800,), (1, 1, 800)), ((2, 800), (1, 2, 800)), ((3, 1, 800), (3, 1, 800))],
)
def test_tensor_layouts(shape, expected):
    assert audio.load(torch.zeros(shape), 8000).samples.shape == expected
    assert audio.load(np.zeros(shape, dtype=np.float64), 8000).samples.dtype == torch.float32
    assert audio.load((torch.zeros(shape), 8000)).samples.shape == expected


def test_resample_and_channels():
    clip = audio.load(tone(1.0, 16_000, channels=2), 16_000, target_sample_rate=24_000, channels=1)
    assert clip.samples.shape == (1, 1, 24_000)
    assert clip.sample_rate == 24_000
    stereo = audio.load(tone(0.1), 16_000, channels=2)
    assert torch.equal(stereo.samples[0, 0], stereo.samples[0, 1])


def test_window_read(wav_file):
    clip = audio.load(wav_file, offset=0.1, duration=0.2)
    assert clip.samples.shape[-1] == 3200
    assert torch.allclose(clip.samples, audio.load(wav_file).samples[..., 1600:4800])


def test_silence_is_valid_and_saves_cleanly(tmp_path):
    clip = audio.load(torch.zeros(1, 1600), 16_000)
    path = audio.save(tmp_path / "s.wav", clip.samples[0], 16_000)
    data, _ = sf.read(path)
    assert np.all(data == 0)


def test_save_is_peak_safe_and_atomic(tmp_path):
    loud = 4.0 * tone(0.2)  # peak ~1.6
    with pytest.warns(UserWarning, match="scaled down"):
        path = audio.save(tmp_path / "loud.flac", loud, 16_000)
    data, _ = sf.read(path)
    assert np.abs(data).max() <= audio.PEAK_LIMIT + 1e-4
    assert [p.name for p in tmp_path.iterdir()] == ["loud.flac"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audio.save(tmp_path / "ok.wav", tone(0.2), 16_000)


def test_save_rejects_batches_and_bad_suffix(tmp_path):
    with pytest.raises(InvalidAudioError, match="one clip"):
        audio.save(tmp_path / "b.wav", torch.zeros(2, 1, 100), 16_000)
    with pytest.raises(AudioFileError, match=r"\.wav"):
        audio.save(tmp_path / "x.nope", tone(0.1), 16_000)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((torch.zeros(0), 16_000), {}, "empty"),
        ((torch.zeros(1, 0), 16_000), {}, "empty"),
        ((torch.zeros(10), 16_000), {"min_samples": 320}, "too short"),
        ((torch.tensor([0.0, float("nan"), 0.0]), 16_000), {}, "non-finite.*sample 1"),
        ((torch.tensor([0.0, 0.0, float("inf")]), 16_000), {}, "non-finite.*sample 2"),
        ((torch.zeros(100, dtype=torch.int16), 16_000), {}, "integer PCM"),
        ((np.zeros(100, dtype=np.int32), 16_000), {}, "integer PCM"),
        ((torch.zeros(6, 1000), 16_000), {}, "6 channels.*Down-mix"),
        ((torch.zeros(1000, 2), 16_000), {}, r"1000 channels.*\[T, C\]"),
        ((torch.zeros(1, 1, 1, 10), 16_000), {}, "expected"),
        ((torch.zeros(16_000 * 3), 16_000), {"max_seconds": 2.0}, "over the limit"),
        ((torch.zeros(100),), {}, "without a sample rate"),
        ((torch.zeros(100), -5), {}, "positive"),
        (([0.0, 0.1],), {}, "cannot read audio from a list"),
        (((torch.zeros(10), 16_000, 1),), {}, "tuple"),
    ],
)
def test_bad_input(args, kwargs, match):
    with pytest.raises(InvalidAudioError, match=match):
        audio.load(*args, **kwargs)


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError):
        audio.load(torch.zeros(0), 16_000)


def test_file_errors(tmp_path, wav_file):
    with pytest.raises(AudioFileError, match="not found"):
        audio.load(tmp_path / "missing.wav")
    with pytest.raises(AudioFileError, match="directory"):
        audio.load(tmp_path)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00junk that is not audio" * 10)
    with pytest.raises(AudioFileError, match="corrupt"):
        audio.load(corrupt)
    truncated = tmp_path / "truncated.flac"
    sf.write(truncated, tone(0.5).T.numpy(), 16_000)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(AudioFileError):
        audio.load(truncated)
    with pytest.raises(InvalidAudioError, match="file carries its own"):
        audio.load(wav_file, 16_000)


@settings(max_examples=30, deadline=None)
@given(
    length=st.integers(1, 400),
    channels=st.integers(1, 2),
    position=st.floats(0, 1, exclude_max=True),
    bad=st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)
def test_property_nonfinite_always_rejected(length, channels, position, bad):
    wav = torch.zeros(channels, length)
    wav[-1, int(position * length)] = bad
    with pytest.raises(InvalidAudioError, match="non-finite"):
        audio.load(wav, 16_000)


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, 2000), rate=st.sampled_from([8000, 16_000, 22_050, 44_100]))
def test_property_valid_audio_round_trips_shape(length, rate):
    wav = torch.rand(1, length) * 2 - 1
    clip = audio.load(wav, rate, target_sample_rate=16_000)
    assert clip.samples.shape[:2] == (1, 1)
    assert torch.isfinite(clip.samples).all()


def test_validation_is_fast_for_long_audio():
    start = time.perf_counter()
    audio.load(torch.zeros(1, 16_000 * 600), 16_000)
    assert time.perf_counter() - start < 5


def test_batch_paths_is_the_one_naming_rule(tmp_path):
    assert audio.batch_paths(tmp_path / "o.wav", 1) == [tmp_path / "o.wav"]
    assert audio.batch_paths(tmp_path / "o.wav", 2) == [tmp_path / "o-0.wav", tmp_path / "o-1.wav"]
