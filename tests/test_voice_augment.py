"""Virtual voices for TTS training: the warp moves formants, the pitch shift moves ln F0, and
a training item's target and prompt get the same change."""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tokgen.codecs import load_codec
from tokgen.codecs.world_vocoder import WorldSettings
from tokgen.errors import ConfigError
from tokgen.training.tts_training import SpeechItems, TTSDataConfig
from tokgen.training.voice_augment import (
    VoiceChange,
    apply_change,
    random_change,
    warp_matrix,
    world_settings,
)

SETTINGS = WorldSettings(second_pitch=True)  # the default codec's


def _formant_latent(peak_hz: float, frames: int = 4) -> torch.Tensor:
    """A ``[D, F]`` latent whose envelope has one resonance at ``peak_hz``."""
    import pyworld

    bins = SETTINGS.fft_size // 2 + 1
    hz = np.arange(bins) * SETTINGS.sample_rate / SETTINGS.fft_size
    sp = np.exp(-(((hz - peak_hz) / 150.0) ** 2) * 3) + 1e-3  # power
    coded = pyworld.code_spectral_envelope(np.tile(sp, (frames, 1)), 16_000, 40)
    latent = torch.zeros(SETTINGS.dim, frames)
    latent[0], latent[1] = np.log(120.0), 1.0
    latent[4:44] = torch.from_numpy(coded.T).float()
    return latent


def _peak_hz(latent: torch.Tensor) -> float:
    import pyworld

    sp = pyworld.decode_spectral_envelope(
        np.ascontiguousarray(latent[4:44].T.double().numpy()), 16_000, SETTINGS.fft_size
    )
    return float(sp.mean(0).argmax() * SETTINGS.sample_rate / SETTINGS.fft_size)


def test_no_change_is_the_identity_and_the_warp_moves_formants():
    latent = _formant_latent(1000.0)
    assert torch.equal(apply_change(latent, VoiceChange(), SETTINGS), latent)
    assert torch.allclose(warp_matrix(SETTINGS, 1.0), torch.eye(40))
    assert _peak_hz(latent) == pytest.approx(1000, abs=20)
    assert _peak_hz(apply_change(latent, VoiceChange(warp=1.12), SETTINGS)) == pytest.approx(
        1120, abs=25
    )
    assert _peak_hz(apply_change(latent, VoiceChange(warp=0.9), SETTINGS)) == pytest.approx(
        900, abs=25
    )


def test_the_pitch_shift_moves_ln_f0_and_keeps_the_rest():
    latent = _formant_latent(800.0)
    out = apply_change(latent, VoiceChange(pitch=0.2), SETTINGS)
    assert torch.allclose(out[0], latent[0] + 0.2) and torch.equal(out[1], latent[1])
    assert torch.allclose(out[4:], latent[4:], atol=1e-5)


def test_random_changes_follow_the_probability_and_ranges():
    rng = random.Random(0)
    changes = [random_change(rng, 0.5, 0.25, 0.12) for _ in range(400)]
    changed = [c for c in changes if c != VoiceChange()]
    assert 150 < len(changed) < 250
    assert all(abs(c.pitch) <= 0.25 and np.exp(-0.12) - 1e-9 <= c.warp <= np.exp(0.12) + 1e-9
               for c in changed)  # fmt: skip
    assert random_change(random.Random(1), 0.0, 0.25, 0.12) == VoiceChange()


def test_other_latents_and_codecs_are_refused():
    with pytest.raises(ConfigError, match="voice_augment"):
        apply_change(torch.zeros(8, 3), VoiceChange(pitch=0.1), SETTINGS)
    with pytest.raises(ConfigError, match="voice_augment"):
        world_settings("tokgen-codec-16k-spectral")
    assert world_settings("tokgen-codec-16k") == load_codec("tokgen-codec-16k").settings


def _corpus() -> SimpleNamespace:
    """Two clips of one voice, as SpeechItems reads a latent corpus."""
    rows = [{"id": "a", "voice": "v"}, {"id": "b", "voice": "v"}]
    return SimpleNamespace(folder="memory", rows=rows, header=SimpleNamespace(frame_rate=50.0))


def test_a_training_item_and_its_prompt_share_the_virtual_voice(tmp_path):
    latents = [_formant_latent(700.0, 6), _formant_latent(1500.0, 6)]
    alignments = tmp_path / "align.jsonl"
    rows = [
        {"id": "a", "ids": [1, 2], "durations": [3, 3]},
        {"id": "b", "ids": [1], "durations": [6]},
    ]
    alignments.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = TTSDataConfig(latents="-", alignments="-", voice_augment=1.0, augment_pitch=0.3)
    items = SpeechItems(_corpus(), latents, str(alignments), 3.0, (SETTINGS, data))
    plain = SpeechItems(_corpus(), latents, str(alignments), 3.0)
    for seed in range(4):
        item, base = items[0, seed], plain[0, seed]
        shift = float(item["latent"][0, 0] - base["latent"][0, 0])
        assert 0 < abs(shift) <= 0.3
        assert float(item["prompt"][0, 0] - base["prompt"][0, 0]) == pytest.approx(shift)
        ratio = _peak_hz(item["latent"]) / _peak_hz(base["latent"])
        prompt_ratio = _peak_hz(item["prompt"]) / _peak_hz(base["prompt"])
        assert ratio == pytest.approx(prompt_ratio, abs=0.03)
