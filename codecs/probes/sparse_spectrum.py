"""Probe (issue 11, item 3; issue 14): how much of the fine spectrum does the judge need?

Unquantized variants of the STFT-1024 log magnitudes at the codec's hop, each inverted with
32 Griffin-Lim iterations, scored by the shipped judge on the test split's 102 music and
sound-event clips (as ``spectral_path.py`` scores them):

* a smooth floor (the log magnitudes liftered to 30 cepstral coefficients) plus the
  ``n`` most prominent spectral peaks per frame kept exactly (+-2 bins): what a sparse,
  sinusoidal code could carry;
* the same floor with the bins below 1 kHz kept exactly;
* PCA of the log magnitudes (fitted on 60,000 train frames) to 64 / 128 / 256 dimensions:
  what a compact continuous latent could carry.

The numbers are in codecs/README.md ("Sounds and music").

    OMP_NUM_THREADS=1 python codecs/probes/sparse_spectrum.py   # about 5 min on one core
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from spectral_path import CORPUS, EPS, SR, griffin_lim, magnitude, train_frames

from tokgen.eval.judge import load_judge, load_mono


def floor(log_mag: torch.Tensor, lifter: int = 30) -> torch.Tensor:
    """``[bins, F]`` log magnitudes smoothed across frequency (cepstral lifter)."""
    cepstrum = torch.fft.irfft(log_mag.T, dim=-1)  # [F, 2 * (bins - 1)]
    cepstrum[:, lifter : -lifter + 1] = 0
    return torch.fft.rfft(cepstrum, dim=-1).real.T


def peaks_on_floor(mag: torch.Tensor, n: int, low_bins: int = 0) -> torch.Tensor:
    """Magnitudes ``[bins, F]``: the floor, the ``n`` most prominent peaks per frame (those
    3 dB or more above the floor, +-2 bins each) and the ``low_bins`` lowest bins exact."""
    log_mag = mag.add(EPS).log()
    smooth = floor(log_mag)
    out = smooth.exp()
    if n:
        peak = torch.zeros_like(log_mag, dtype=torch.bool)
        peak[1:-1] = (log_mag[1:-1] > log_mag[:-2]) & (log_mag[1:-1] >= log_mag[2:])
        prominence = log_mag - smooth
        score = torch.where(peak & (prominence > 0.35), prominence, torch.full_like(mag, -1e9))
        top = score.topk(n, dim=0)  # [n, F]
        keep = torch.zeros_like(peak)
        for offset in range(-2, 3):
            rows = (top.indices + offset).clamp(0, len(mag) - 1)
            keep.scatter_(0, rows, top.values > -1e8)
        out = torch.where(keep, torch.maximum(mag, out), out)
    out[:low_bins] = mag[:low_bins]
    return out


def main() -> None:
    torch.manual_seed(0)
    judge = load_judge()
    rows = [json.loads(line) for line in Path(f"{CORPUS}/test.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] in ("music", "sound_event") and r.get("class")]
    wavs = [load_mono(f"{CORPUS}/{r['path']}", SR) for r in rows]

    def report(name: str, outs: list[torch.Tensor]) -> None:
        classes, _, _ = judge.judge(outs)
        acc = float(np.mean([c == r["class"] for c, r in zip(classes, rows)]))
        print(f"| {name} | {acc:.3f} | {acc / base:.2f} |", flush=True)

    classes, _, _ = judge.judge(wavs)
    base = float(np.mean([c == r["class"] for c, r in zip(classes, rows)]))
    print(f"{len(rows)} clips; originals {base:.3f}")
    report("STFT-1024 magnitudes", [griffin_lim(magnitude(w), len(w), iters=32) for w in wavs])
    for n, low in ((0, 0), (8, 0), (16, 0), (32, 0), (64, 0), (0, 64), (0, 128), (16, 64)):
        outs = [griffin_lim(peaks_on_floor(magnitude(w), n, low), len(w), iters=32) for w in wavs]
        report(f"floor + {n} peaks, bins below {low * SR // 1024} Hz exact", outs)
    frames = train_frames()
    mean = frames.mean(0)
    basis = torch.linalg.svd(frames[:30_000] - mean, full_matrices=False).Vh  # [bins, bins]
    for dims in (64, 128, 256):
        b = basis[:dims]

        def pca(w: torch.Tensor, b: torch.Tensor = b) -> torch.Tensor:
            coded = (magnitude(w).add(EPS).log().T - mean) @ b.T @ b + mean
            return griffin_lim(coded.exp().sub(EPS).clamp_min(0).T, len(w), iters=32)

        report(f"PCA to {dims} dimensions", [pca(w) for w in wavs])


if __name__ == "__main__":
    main()
