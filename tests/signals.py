"""Seeded test signals shared by the fitted codecs' tests (16 kHz numpy arrays)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16_000


def voice(seconds: float, f0: float, seed: int) -> np.ndarray:
    """A buzzy vowel-like tone with vibrato and a noise burst: ``[T]`` at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    tone *= 0.2 * (t < seconds * 0.7)
    noise = 0.05 * rng.standard_normal(len(t)) * (t >= seconds * 0.7)
    return (tone + noise).astype(np.float32)


def chord_partials(wav: np.ndarray, freqs: tuple[float, ...], width: int = 0) -> list[float]:
    """Level (dB) of the spectral peak at each of ``freqs`` (+-3 Hz) in the middle second of
    ``wav``; with ``width``, the energy within +-``width`` Hz instead (a partial whose phase
    Griffin-Lim made, spread over the neighbouring 1 Hz bins, by how much depends on the
    machine's floating point)."""
    middle = wav[len(wav) // 2 - SR // 2 : len(wav) // 2 + SR // 2] * np.hanning(SR)
    spectrum = np.abs(np.fft.rfft(middle))  # 1 Hz bins
    if width:
        bands = [spectrum[int(f) - width : int(f) + width + 1] for f in freqs]
        return [10 * np.log10((band**2).sum() + 1e-18) for band in bands]
    return [20 * np.log10(spectrum[int(f) - 3 : int(f) + 4].max() + 1e-9) for f in freqs]


def harmonic_tone(f0: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return 0.15 * sum(np.sin(2 * np.pi * k * f0 * t) * 0.6**k for k in range(1, 8))


def write_clips(root: Path, clips: list[np.ndarray], kind: str) -> Path:
    """``clips`` as ``root/clip{i}.wav`` and a manifest of them, ``root/train.jsonl``."""
    rows = []
    for i, clip in enumerate(clips):
        sf.write(root / f"clip{i}.wav", clip, SR)
        rows.append(json.dumps({"path": f"clip{i}.wav", "duration": len(clip) / SR, "kind": kind}))
    manifest = root / "train.jsonl"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest
