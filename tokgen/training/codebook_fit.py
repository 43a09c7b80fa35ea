"""``tokgen fit codec``: fit a fitted codec's residual k-means codebooks on a corpus.

Fitted codecs are the parametric one (WORLD parameters) and the spectral one (log STFT
magnitudes); both expose ``residual_vectors``, ``mean`` and ``codebooks``. Three resumable
steps in ``out/``, each file written atomically:

1. ``features/part-NNNNN.npy``: what the codec analyses (``fit_features``: WORLD
   parameters, or log magnitudes) of a deterministic selection of manifest rows (every
   kind of audio: speech, music, events, mixtures), analysed in parallel; finished parts
   are skipped on a rerun. ``fit_latent`` turns them into latents (fitting the spectral
   codec's PCA basis first, in seconds).
2. ``stages/stage-NN.npy``: residual k-means codebooks ``[bins, R]``, one stage at a time
   (seeded Lloyd iterations; empty clusters re-seeded from the worst-coded frames).
3. ``model/``: the codec checkpoint (``config.json`` + fp16 ``model.safetensors``).

The same ``(manifest, config, seed, frame budget)`` gives the same codebooks.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from tokgen.codecs.fitted import FittedCodec, nearest
from tokgen.codecs.parametric_codec import ParametricConfig
from tokgen.codecs.registry import build_codec
from tokgen.codecs.spectral_codec import SpectralConfig
from tokgen.data.manifest import read_manifest
from tokgen.data.real_speech import HUMAN_CLASS
from tokgen.errors import ConfigError, InvalidInputError
from tokgen.hub import atomic_write_text

PART_ROWS = 64  # clips per feature part (the unit of resume)
FIT_FILE = "fit.json"  # what a work folder was fitted with; a rerun must match it

FittedConfig = ParametricConfig | SpectralConfig


@dataclass
class FitSettings:
    """How to fit; with the codec config these fix the result."""

    max_hours: float = 3.0  # audio analysed (rows drawn at random, every kind)
    iterations: int = 20  # Lloyd iterations per stage
    max_frames: int = 300_000  # frames per k-means stage (a seeded sample of all frames)
    seed: int = 0
    jobs: int = 2
    # held out: the recorded human voice that `tokgen data real-speech` checks the codec on
    exclude_classes: tuple[str, ...] = (HUMAN_CLASS,)


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as handle:
        np.save(handle, array)
    os.replace(tmp, path)


def select_rows(
    manifest: Path, max_hours: float, seed: int, exclude_classes: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """A seeded shuffle of the manifest's rows (less ``exclude_classes``), cut at ``max_hours``."""
    rows = read_manifest(manifest, purpose="fit codebooks on")
    rows = [row for row in rows if row.get("class") not in exclude_classes]
    random.Random(seed).shuffle(rows)
    chosen, total = [], 0.0
    for row in rows:
        if total >= max_hours * 3600:
            break
        row = {**row, "path": str((manifest.parent / row["path"]).resolve())}
        chosen.append(row)
        total += float(row.get("duration", 0.0))
    return chosen


def _analyze_part(job: tuple[list[str], FittedConfig]) -> np.ndarray:
    """The codec's ``fit_features`` ``[frames, S]`` of the clips in one part (a worker)."""
    paths, config = job
    torch.set_num_threads(1)
    codec = build_codec(config)
    return np.concatenate([codec.fit_features(path) for path in paths])


def extract_features(
    rows: list[dict[str, Any]], config: FittedConfig, folder: Path, jobs: int
) -> np.ndarray:
    """Step 1: analyse ``rows`` into ``folder/part-*.npy`` (resumable); all frames ``[N, D]``."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [rows[i : i + PART_ROWS] for i in range(0, len(rows), PART_ROWS)]
    files = [folder / f"part-{index:05d}.npy" for index in range(len(parts))]
    todo = [
        (i, [r["path"] for r in part]) for i, part in enumerate(parts) if not files[i].is_file()
    ]
    with tqdm(
        total=len(parts), initial=len(parts) - len(todo), desc="analysis", unit="part"
    ) as bar:
        jobs_list = [(paths, config) for _, paths in todo]
        if jobs > 1 and len(todo) > 1:
            with multiprocessing.get_context("spawn").Pool(jobs) as pool:
                for (index, _), features in zip(todo, pool.imap(_analyze_part, jobs_list)):
                    _save_npy(files[index], features)
                    bar.update()
        else:
            for (index, _), job in zip(todo, jobs_list):
                _save_npy(files[index], _analyze_part(job))
                bar.update()
    return np.concatenate([np.load(file) for file in files])


def kmeans(vectors: torch.Tensor, bins: int, iterations: int, seed: int) -> torch.Tensor:
    """Lloyd's k-means on ``vectors [N, R]`` -> centroids ``[bins, R]`` (deterministic)."""
    generator = torch.Generator().manual_seed(seed)
    if len(vectors) < bins:
        raise InvalidInputError(
            f"{len(vectors)} frames cannot fit {bins} centroids; analyse more audio (max_hours)."
        )
    centroids = vectors[torch.randperm(len(vectors), generator=generator)[:bins]].clone()
    for _ in range(iterations):
        index = nearest(vectors, centroids)  # [N]
        sums = torch.zeros_like(centroids).index_add_(0, index, vectors)
        counts = torch.bincount(index, minlength=bins)
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        empty = (counts == 0).nonzero().flatten()
        if len(empty):  # re-seed empty clusters at the worst-coded frames
            error = ((vectors - centroids[index]) ** 2).sum(-1)
            centroids[empty] = vectors[error.topk(len(empty)).indices]
    return centroids


def fit_codebooks(
    latents: np.ndarray, codec: FittedCodec, folder: Path, settings: FitSettings
) -> None:
    """Step 2: residual k-means stage by stage into ``codec.codebooks`` (resumable)."""
    folder.mkdir(parents=True, exist_ok=True)
    latent = torch.from_numpy(latents).float().T[None]  # [1, D, N]
    vectors = codec.residual_vectors(latent)[0]  # [N, R]; the mean is still zero here
    generator = torch.Generator().manual_seed(settings.seed)
    if len(vectors) > settings.max_frames:
        vectors = vectors[torch.randperm(len(vectors), generator=generator)[: settings.max_frames]]
    codec.mean.copy_(vectors.mean(0))
    residual = vectors - codec.mean
    stages = codec.codebooks.shape[0]
    for stage in tqdm(range(stages), desc="residual k-means", unit="stage"):
        file = folder / f"stage-{stage:02d}.npy"
        if file.is_file():
            centroids = torch.from_numpy(np.load(file))
        else:
            centroids = kmeans(
                residual, codec.cardinality, settings.iterations, settings.seed + stage
            )
            centroids = centroids.half().float()  # what the fp16 checkpoint will hold
            _save_npy(file, centroids.numpy())
        codec.codebooks[stage].copy_(centroids)
        residual = residual - centroids[nearest(residual, centroids)]
    codec.mean.copy_(codec.mean.half().float())


def fit_codec(
    manifest: str | os.PathLike,
    out: str | os.PathLike,
    config: FittedConfig | None = None,
    settings: FitSettings | None = None,
) -> Path:
    """Fit a parametric (default) or spectral codec on ``manifest``'s audio; returns the
    checkpoint directory."""
    config = config or ParametricConfig()
    settings = settings or FitSettings()
    out = Path(out)
    _check_folder(out, manifest, config, settings)
    rows = select_rows(
        Path(manifest), settings.max_hours, settings.seed, tuple(settings.exclude_classes)
    )
    features = extract_features(rows, config, out / "features", settings.jobs)
    codec = build_codec(config)
    latents = codec.fit_latent(features[np.isfinite(features).all(axis=1)], settings.seed)
    fit_codebooks(latents, codec, out / "stages", settings)
    return codec.save_pretrained(out / "model", dtype=torch.float16)


def _check_folder(
    out: Path, manifest: str | os.PathLike, config: FittedConfig, settings: FitSettings
) -> None:
    """Record the fit's inputs in ``out/fit.json``; refuse to resume with other ones."""
    record = {
        "manifest": str(Path(manifest).resolve()),
        "config": dataclasses.asdict(config),
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "jobs"},
    }
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    file = out / FIT_FILE
    if file.is_file() and file.read_text() != text:
        raise ConfigError(
            f"{out} was fitted with other settings ({file}); pass another --out to fit anew, "
            "or delete the folder."
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, text)
