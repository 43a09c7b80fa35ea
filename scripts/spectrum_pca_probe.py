"""How many bits do log-magnitude spectra need? A linear baseline for the codec notes.

Fits PCA to the log-magnitude STFT frames (n_fft 1280, hop 320: the Vocos decoder's
framing) of random train clips, then residual k-means codebooks (1024 entries each) on the
PCA coefficients, and scores wide-band PESQ of the probe sentences rebuilt from 32-256
components and from 4 and 8 codebooks over 128 components, phase by Griffin-Lim (16
iterations, as the shipped decoder).

    python scripts/spectrum_pca_probe.py [--train data/corpus/train.jsonl] [--clips 400]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
from codec_probe import probe_sentences
from pesq import pesq

from tokgen import audio as audio_io
from tokgen.codecs.vocos_decoder import VocosDecoder

HOP = 320
FLOOR = 1e-5


def load_mono(path: Path) -> torch.Tensor:
    return audio_io.load(path, target_sample_rate=16_000, channels=1).samples[0, 0]  # [T]


def log_frames(decoder: VocosDecoder, wav: torch.Tensor) -> torch.Tensor:
    """Mono ``[T]`` -> log magnitudes ``[F, bins]`` (T cut to whole hops)."""
    wav = wav[: len(wav) // HOP * HOP]
    return decoder.stft(wav[None]).abs()[0].clamp_min(FLOOR).log().T


def residual_kmeans(x: torch.Tensor, stages: int, size: int, iters: int = 15) -> list[torch.Tensor]:
    """Codebooks ``[size, D]`` per stage, each fitted to the previous stages' residual."""
    books, residual = [], x.clone()
    for _ in range(stages):
        centres = residual[torch.randperm(len(residual))[:size]].clone()
        for _ in range(iters):
            assign = torch.cdist(residual, centres).argmin(1)
            counts = torch.bincount(assign, minlength=size).float()
            sums = torch.zeros_like(centres).index_add_(0, assign, residual)
            used = counts > 0
            centres[used] = sums[used] / counts[used, None]
        books.append(centres)
        residual = residual - centres[torch.cdist(residual, centres).argmin(1)]
    return books


def quantize(z: torch.Tensor, books: list[torch.Tensor]) -> torch.Tensor:
    out, residual = torch.zeros_like(z), z.clone()
    for centres in books:
        chosen = centres[torch.cdist(residual, centres).argmin(1)]
        out, residual = out + chosen, residual - chosen
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="data/corpus/train.jsonl")
    parser.add_argument("--test", default="data/corpus/test.jsonl")
    parser.add_argument("--clips", type=int, default=400)
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    decoder = VocosDecoder(16, HOP, dim=8, layers=1, phase="griffin_lim", griffin_lim_iters=16)
    decoder.eval()
    train = Path(args.train)
    rows = [json.loads(line) for line in train.read_text().splitlines() if line.strip()]
    frames = torch.cat(
        [
            log_frames(decoder, load_mono(train.parent / r["path"]))
            for r in random.sample(rows, args.clips)
        ]
    )  # [N, bins]
    mean = frames.mean(0)
    _, _, basis = torch.pca_lowrank(frames - mean, q=256, center=False)  # [bins, 256]
    sentences = [w[0, 0] for w in probe_sentences(Path(args.test), 8)]

    def score(rebuild) -> float:
        values = []
        for wav in sentences:
            wav = wav[: len(wav) // HOP * HOP]
            magnitude = rebuild(log_frames(decoder, wav)).T.exp()[None]  # [1, bins, F]
            out = decoder.synthesize(magnitude, torch.zeros_like(magnitude))[0, 0]
            values.append(pesq(16_000, wav.numpy(), out.numpy(), "wb"))
        return float(np.mean(values))

    def rebuild(q: int, books: list[torch.Tensor] | None = None):
        p = basis[:, :q]  # [bins, q]
        code = (lambda z: z) if books is None else (lambda z: quantize(z, books))
        return lambda x: code((x - mean) @ p) @ p.T + mean

    for q in (32, 64, 128, 256):
        print(f"PCA {q:3d} components: PESQ {score(rebuild(q)):.3f}")
    books = residual_kmeans((frames - mean) @ basis[:, :128], stages=8, size=1024)
    for k in (4, 8):
        pesq_k = score(rebuild(128, books[:k]))
        print(f"PCA 128 + {k} x 1024 residual k-means: PESQ {pesq_k:.3f}")


if __name__ == "__main__":
    main()
