"""What the spectrum codebook probes (`subband_codebooks.py`, `mel_codebooks.py`) share: the
same seeded training frames and the same judge-ratio measurement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tokgen.codecs import Codec
from tokgen.codecs.spectral_codec import SpectralConfig
from tokgen.eval.codec_eval import JudgeSummary, evaluate_codec
from tokgen.training.codebook_fit import extract_features, select_rows

FRAMES = 150_000  # the k-means sample


def training_frames(hours: float) -> torch.Tensor:
    """``FRAMES`` seeded log STFT magnitude frames ``[N, 513]`` of a seeded ``hours`` of the
    train split's audio (every kind), analysed once into ``runs/probe-features-{hours}h``."""
    rows = select_rows(Path("data/corpus/train.jsonl"), hours, 0)
    features = extract_features(rows, SpectralConfig(), Path(f"runs/probe-features-{hours}h"), 1)
    x = torch.from_numpy(features[np.isfinite(features).all(1)]).float()
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:FRAMES]]


def judge_ratio(codec: Codec, label: str) -> JudgeSummary:
    """The judge's accuracy on the test split's music and sound events, original and through
    ``codec``; printed as one ``RESULT`` line after ``label``."""
    result = evaluate_codec(codec, "data/corpus/test.jsonl", kinds=["music", "sound_event"],
                            speed_seconds=2.0, progress=False).recognition  # fmt: skip
    print(f"RESULT {label} judge original {result.accuracy_original:.3f} decoded "
          f"{result.accuracy_decoded:.3f} ratio {result.ratio:.3f}", flush=True)  # fmt: skip
    return result
