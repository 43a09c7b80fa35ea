"""The texture continuation (tokgen-texture): the prompt's own frames in a new order."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch
from conftest import tone

import tokgen
from tokgen.continuation import TextureConfig, TextureNet, save_texture
from tokgen.errors import ConfigError, TokgenError
from tokgen.pipeline import default_model, model_info, shipped_models

SR, HOP = 16_000, 320


def noise_then_tone(seed: int = 0) -> torch.Tensor:
    """1 s of white noise, then 1 s of a 440 Hz tone ``[T]``."""
    noise = torch.randn(SR, generator=torch.Generator().manual_seed(seed)) * 0.1
    return torch.cat([noise, tone(1.0, freq=440.0)[0]])


def band_energy(wav: torch.Tensor, low: float, high: float) -> float:
    spectrum = torch.fft.rfft(wav).abs() ** 2
    freqs = torch.fft.rfftfreq(wav.shape[0], 1 / SR)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


@pytest.fixture(scope="module")
def texture(tmp_path_factory):
    return tokgen.load(str(save_texture(TextureNet(TextureConfig()), tmp_path_factory.mktemp("t"))))


def test_shipped_as_the_continuation_default():
    assert default_model("continuation") == "tokgen-texture"
    assert "tokgen-texture" in shipped_models()
    info = model_info("tokgen-texture")
    assert list(info.tasks) == ["continuation"] and info.options == ("duration", "seed")
    assert [c.name for c in info.tasks["continuation"].conditions] == ["audio"]
    assert tokgen.load("tokgen-texture").config == TextureConfig()


def test_every_frame_is_a_prompt_frame_in_runs_that_jump_far_enough():
    net = TextureNet(replace(TextureConfig(), fade=0, jump_probability=0.2))
    prompt = noise_then_tone()
    order = net.plan(net.features(prompt), 200, torch.Generator().manual_seed(3))
    out = net(prompt, 200, torch.Generator().manual_seed(3))
    frames = prompt[: len(prompt) // HOP * HOP].reshape(-1, HOP)  # [N, hop]
    assert torch.equal(out.reshape(200, HOP), frames[order])  # copied whole without fades
    jumps = [(a, b) for a, b in itertools.pairwise(order) if b != a + 1]
    assert len(jumps) > 10  # p = 0.2 per frame
    assert all(abs(b - 1 - a) >= 10 for a, b in jumps)  # lands after a frame >= 10 away


def test_it_goes_on_with_the_sound_the_prompt_ends_with():
    """A prompt of noise then a tone, never jumping at random: the continuation stays with
    the tone (the frames like its last one), and the noise's band stays empty."""
    net = TextureNet(replace(TextureConfig(), jump_probability=0.0))
    out = net(noise_then_tone(), 150, torch.Generator().manual_seed(0))  # 3 s
    assert band_energy(out, 420, 460) > 100 * band_energy(out, 2000, 8000)
    noisy = net(noise_then_tone().flip(0), 150, torch.Generator().manual_seed(0))  # tone, noise
    assert band_energy(noisy, 2000, 8000) > band_energy(noisy, 420, 460)


def test_seeds_lengths_and_batches(texture):
    prompt = noise_then_tone()
    out = texture.generate("continuation", audio=[(prompt, SR)] * 2, duration=[1.0, 0.5], seed=7)
    assert out.lengths == [SR, SR // 2] and out.audio.shape == (2, 1, SR)
    assert torch.equal(out.audio[1, 0, SR // 2 :], torch.zeros(SR // 2))
    for i, seconds in enumerate((1.0, 0.5)):
        one = texture.generate("continuation", audio=(prompt, SR), duration=seconds, seed=7 + i)
        assert torch.equal(one.audio[0], out.audio[i, :, : one.lengths[0]])
    other = texture.generate("continuation", audio=(prompt, SR), duration=1.0, seed=8)
    assert not torch.equal(other.audio[0], out.audio[0])
    assert out.codes.shape[:2] == (2, texture.codec.num_codebooks)
    assert (out.codes[1, :, 25:] == -1).all() and (out.codes[1, :, :25] >= 0).all()
    default = texture.generate("continuation", audio=(prompt, SR), seed=0)
    assert default.lengths == [4 * SR]  # the built-in task's default duration
    silence = texture.generate("continuation", audio=torch.zeros(SR), sample_rate=SR, seed=0)
    assert torch.equal(silence.audio, torch.zeros_like(silence.audio))


def test_bad_inputs_are_refused_clearly(texture):
    prompt = (noise_then_tone(), SR)
    cases = [
        ({"audio": prompt, "text": "birds"}, "takes no caption"),
        ({"audio": prompt, "temperature": 0.5}, "deterministic"),
        ({"audio": prompt, "duration": 0.0}, "duration"),
        ({"audio": prompt, "duration": 61.0}, "duration"),
        ({}, "needs audio"),
        ({"audio": (torch.zeros(100), SR)}, "at least"),
    ]
    for kwargs, message in cases:
        with pytest.raises(TokgenError, match=message):
            texture.generate("continuation", **kwargs)
    with pytest.raises(TokgenError, match="only continues audio"):
        texture.generate("tts", "Hello.")
    with pytest.raises(ConfigError, match="jump_probability"):
        TextureConfig(jump_probability=1.5)
    with pytest.raises(ConfigError, match="fade"):
        TextureConfig(fade=400)


def test_a_one_task_model_on_samples_needs_a_mono_codec_at_its_rate(texture):
    from tokgen.continuation import TextureContinuation
    from tokgen.separation import MaskNet, MaskNetConfig, MaskSeparator

    codec = texture.codec  # mono, 16 kHz
    with pytest.raises(ConfigError, match="mono 24000 Hz"):
        TextureContinuation(TextureNet(TextureConfig(sample_rate=24_000)), codec, "t")
    with pytest.raises(ConfigError, match="mono 8000 Hz"):
        MaskSeparator(MaskNet(MaskNetConfig(width=8, layers=1, sample_rate=8_000)), codec, "s")
