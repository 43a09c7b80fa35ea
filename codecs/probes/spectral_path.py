"""Probe (issue 11, item 3): would a magnitude-spectrum + Griffin-Lim path carry music and
sound events for the shipped judge? Prints the judge's class accuracy on the test split's
music and sound-event clips (all 102 with a class, as `tokgen eval codec` counts them)
after: STFT magnitudes inverted with Griffin-Lim; mel magnitudes (pseudo-inverse) the same
way; and log magnitudes coded by residual k-means fitted on 900 train music, sound-event
and mixture clips (1024 x K stages, 60,000 frames, 12 Lloyd iterations), or by one codebook
per band of bins. The numbers are in codecs/README.md ("Sounds and music").

    OMP_NUM_THREADS=1 python codecs/probes/spectral_path.py   # about 10 min on one core
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import torch
import torchaudio

from tokgen.eval.judge import load_judge, load_mono
from tokgen.training.codebook_fit import kmeans, nearest

CORPUS = "data/corpus"
SR, N_FFT, HOP, EPS = 16_000, 1024, 320, 1e-4
WINDOW = torch.hann_window(N_FFT)


def magnitude(wav: torch.Tensor, n_fft: int = N_FFT) -> torch.Tensor:
    """``[T]`` -> STFT magnitudes ``[bins, F]`` (``HOP`` hop: the codec's frame rate)."""
    return torch.stft(wav, n_fft, HOP, window=torch.hann_window(n_fft), return_complex=True).abs()


def griffin_lim(mag: torch.Tensor, length: int, n_fft: int = N_FFT, iters: int = 64):
    out = torchaudio.transforms.GriffinLim(n_fft=n_fft, hop_length=HOP, power=1.0, n_iter=iters)(
        mag
    )
    return torch.nn.functional.pad(out, (0, max(0, length - len(out))))[:length]


def mel_roundtrip(mag: torch.Tensor, mels: int) -> torch.Tensor:
    bank = torchaudio.functional.melscale_fbanks(
        N_FFT // 2 + 1, 0, SR / 2, mels, SR, norm="slaney", mel_scale="slaney"
    )  # [bins, mels]
    return torch.linalg.lstsq(bank.T, bank.T @ mag).solution.clamp_min(0)


def train_frames() -> torch.Tensor:
    """60,000 log-magnitude frames ``[N, bins]`` of 900 train music/event/mixture clips."""
    rows = [json.loads(line) for line in Path(f"{CORPUS}/train.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] in ("music", "sound_event", "mixture")]
    random.Random(0).shuffle(rows)
    frames = torch.cat(
        [magnitude(load_mono(f"{CORPUS}/{r['path']}", SR)).add(EPS).log().T for r in rows[:900]]
    )
    frames = frames[torch.randperm(len(frames), generator=torch.Generator().manual_seed(0))]
    return frames[:60_000]


def fit_books(frames: torch.Tensor, stages: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Residual k-means: the mean and ``stages`` codebooks of 1,024."""
    mean, books = frames.mean(0), []
    residual = frames - mean
    for stage in range(stages):
        books.append(kmeans(residual, 1024, 12, stage))
        residual = residual - books[-1][nearest(residual, books[-1])]
    return mean, books


BANDS = (0, 16, 32, 48, 64, 96, 128, 192, 288, 513)  # bin ranges of the band codebooks


def fit_band_books(frames: torch.Tensor) -> list[torch.Tensor]:
    """One codebook of 1,024 per bin range of ``BANDS`` over the residual ``frames``."""
    pairs = list(itertools.pairwise(BANDS))
    return [kmeans(frames[:, a:b].contiguous(), 1024, 12, i) for i, (a, b) in enumerate(pairs)]


def band_quantized(mag: torch.Tensor, mean: torch.Tensor, books: list[torch.Tensor]):
    residual = mag.add(EPS).log().T - mean
    coded = torch.zeros_like(residual)
    for (a, b), book in zip(itertools.pairwise(BANDS), books):
        coded[:, a:b] = book[nearest(residual[:, a:b].contiguous(), book)]
    return (coded + mean).exp().sub(EPS).clamp_min(0).T


def quantized(mag: torch.Tensor, mean: torch.Tensor, books: list[torch.Tensor]) -> torch.Tensor:
    residual = mag.add(EPS).log().T - mean
    coded = torch.zeros_like(residual)
    for book in books:
        picked = book[nearest(residual, book)]
        coded, residual = coded + picked, residual - picked
    return (coded + mean).exp().sub(EPS).clamp_min(0).T


def main() -> None:
    torch.manual_seed(0)
    judge = load_judge()
    rows = [json.loads(line) for line in Path(f"{CORPUS}/test.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] in ("music", "sound_event") and r.get("class")]
    wavs = [load_mono(f"{CORPUS}/{r['path']}", SR) for r in rows]

    def accuracy(outs: list[torch.Tensor]) -> float:
        classes, _, _ = judge.judge(outs)
        return float(np.mean([c == r["class"] for c, r in zip(classes, rows)]))

    base = accuracy(wavs)
    print(f"{len(rows)} clips; originals {base:.3f}")
    variants = {
        "STFT-512 magnitudes, Griffin-Lim 32": lambda w: griffin_lim(magnitude(w, 512), len(w), 512, 32),
        "STFT-1024 magnitudes, Griffin-Lim 16": lambda w: griffin_lim(magnitude(w), len(w), iters=16),
        "STFT-1024 magnitudes, Griffin-Lim 64": lambda w: griffin_lim(magnitude(w), len(w)),
        "128 mel bands, Griffin-Lim 64": lambda w: griffin_lim(mel_roundtrip(magnitude(w), 128), len(w)),
        "80 mel bands, Griffin-Lim 64": lambda w: griffin_lim(mel_roundtrip(magnitude(w), 80), len(w)),
    }  # fmt: skip
    for name, run in variants.items():
        acc = accuracy([run(w) for w in wavs])
        print(f"| {name} | {acc:.3f} | {acc / base:.2f} |", flush=True)
    frames = train_frames()
    mean, books = fit_books(frames, 9)
    for k in (4, 6, 9):
        outs = [griffin_lim(quantized(magnitude(w), mean, books[:k]), len(w)) for w in wavs]
        acc = accuracy(outs)
        print(
            f"| log magnitudes, {k} k-means stages, Griffin-Lim 64 | {acc:.3f} | {acc / base:.2f} |"
        )


if __name__ == "__main__":
    main()
