"""Shared fixtures: synthetic audio and tiny codecs (no downloads, seconds on 2 cores)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import soundfile as sf
import torch
from hypothesis import settings


def tone(
    seconds: float, sample_rate: int = 16_000, freq: float = 220.0, channels: int = 1
) -> torch.Tensor:
    """A harmonic tone with a little noise, ``[C, T]``."""
    t = torch.arange(round(seconds * sample_rate)) / sample_rate
    wav = 0.3 * torch.sin(2 * torch.pi * freq * t) + 0.1 * torch.sin(2 * torch.pi * 3 * freq * t)
    wav = wav + 0.01 * torch.randn(t.shape, generator=torch.Generator().manual_seed(0))
    return wav.expand(channels, -1).clone()


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    """Eight short clips at mixed sample rates and lengths (some shorter than a segment)."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(8):
        rate = 16_000 if i % 2 else 22_050
        seconds = 0.15 if i == 3 else 0.5
        wav = tone(seconds, rate, freq=150.0 + 40 * i)
        sf.write(folder / f"clip{i}.wav", wav.T.numpy(), rate)
    return folder


@pytest.fixture
def wav_file(tmp_path: Path) -> Path:
    path = tmp_path / "tone.wav"
    sf.write(path, tone(0.5).T.numpy(), 16_000)
    return path


@pytest.fixture(scope="session")
def debug_codec():
    import tokgen

    return tokgen.load_codec("tokgen-codec-debug")


# CI explores the same examples every run (a property test must not fail a submission at
# random); locally, hypothesis keeps exploring and its database replays what it found.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
