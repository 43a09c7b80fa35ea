"""``tokgen train separation``: the mask separator on mixtures made on the fly.

Inputs: an audio manifest of single clips (the corpus' train split: speech, music, sound
events, each with captions). Each item mixes 2 (sometimes 3) clips of different classes the
way ``tokgen data build`` does (a random window of each, the others at -5..+5 dB against the
first, a random overall gain under a 0.9 peak), picks one as the target and one of its
captions as the query. So every step sees new mixtures, and none are drawn from the valid
or test clips. Loss: negative SI-SDR of the masked mixture against the target (clamped at
``max_sdr``), plus an L1 on compressed magnitudes (which also covers targets silent in the
crop). An EMA of the weights is exported.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from tokgen.data.manifest import read_manifest
from tokgen.data.render import mix_sources, random_window
from tokgen.decoders.mask import stft
from tokgen.errors import ConfigError
from tokgen.hub import config_from_dict
from tokgen.separation.model import MaskNet, MaskNetConfig
from tokgen.separation.pipeline import load_separator_net, save_separator
from tokgen.training.config import OptimConfig, RunConfig, read_recipe
from tokgen.training.ema import Ema, EmaConfig
from tokgen.training.trainer import MODEL_DIR, Trainer, Updater

SOURCE_KINDS = ("speech", "music", "sound_event")


@dataclass
class SeparationDataConfig:
    manifest: str  # single clips with captions (the corpus' train split)
    crop_seconds: float = 3.0
    three_sources: float = 0.25  # share of mixtures of 3 clips
    snr_db: float = 5.0  # the others are within +-snr_db of the first clip
    batch_size: int = 16
    num_workers: int = 0


@dataclass
class SeparationTrainConfig:
    """``tokgen train separation`` recipe: model sizes, data, run, optimizer, EMA."""

    data: SeparationDataConfig
    run: RunConfig
    model: dict[str, Any] = field(default_factory=dict)  # MaskNetConfig fields
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    max_sdr: float = 30.0  # dB: items already this good add no loss
    magnitude_weight: float = 1.0
    init_from: str | None = None  # a separator to fine-tune (folder or shipped name)


def load_separation_train_config(
    path: str | Path, overrides: list[str] = ()
) -> SeparationTrainConfig:
    """Read a separation recipe and apply ``section.key=value`` overrides."""
    classes = {"data": SeparationDataConfig, "run": RunConfig, "optim": OptimConfig,
               "ema": EmaConfig}  # fmt: skip
    raw, parts = read_recipe(path, overrides, SeparationTrainConfig, ("data", "run"), classes)
    extra = {k: raw[k] for k in ("max_sdr", "magnitude_weight", "init_from") if k in raw}
    return SeparationTrainConfig(model=raw.get("model") or {}, **extra, **parts)


class MixtureItems(Dataset):
    """Items keyed ``(index, seed)``: clip ``index`` as the target, mixed with 1-2 random
    clips of other classes; ``{"mixture" [T], "target" [T], "query" [Q]}``."""

    def __init__(
        self,
        config: SeparationDataConfig,
        sample_rate: int,
        queries: Callable[[list[str]], torch.Tensor],
    ) -> None:
        rows = [
            row for row in read_manifest(config.manifest, purpose="train a separator on")
            if row.get("kind") in SOURCE_KINDS and row.get("captions")
        ]  # fmt: skip
        if len({row["class"] for row in rows}) < 2:
            raise ConfigError(
                f"{config.manifest} needs captioned clips (kinds {SOURCE_KINDS}) of at least two "
                "classes to mix; build a corpus with `tokgen data build`."
            )
        root = Path(config.manifest).parent
        self.rows = rows
        self.audio = [_read_int16(root / row["path"], sample_rate) for row in tqdm(rows,
                      desc="read clips", unit="clip")]  # fmt: skip
        captions = sorted({c for row in rows for c in row["captions"]})
        embeddings = queries(captions)  # [N, Q]
        self.query = {c: embeddings[i] for i, c in enumerate(captions)}
        self.length = round(config.crop_seconds * sample_rate)
        self.config = config

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = key
        rng = random.Random(seed)
        members = [index]
        count = 3 if rng.random() < self.config.three_sources else 2
        for _ in range(100):
            if len(members) == count:
                break
            other = rng.randrange(len(self.rows))
            if all(self.rows[other]["class"] != self.rows[m]["class"] for m in members):
                members.append(other)
        rng.shuffle(members)  # the target is any of the mixed clips
        windows = [random_window(rng, self.audio[m].astype(np.float32) / 32768, self.length)
                   for m in members]  # fmt: skip
        snrs = [rng.uniform(-self.config.snr_db, self.config.snr_db) for _ in windows[1:]]
        sources = mix_sources(windows, snrs, rng.uniform(0.3, 1.0))  # [S, T]
        target = members.index(index)
        return {
            "mixture": torch.from_numpy(sources.sum(0)).float(),
            "target": torch.from_numpy(sources[target]).float(),
            "query": self.query[rng.choice(self.rows[index]["captions"])],
        }


def _read_int16(path: Path, sample_rate: int) -> np.ndarray:
    samples, rate = sf.read(str(path), dtype="int16", always_2d=True)
    if rate != sample_rate:
        raise ConfigError(f"{path} is at {rate} Hz; the separator works at {sample_rate} Hz.")
    return samples[:, 0]


@dataclass
class MixtureBatch:
    mixture: torch.Tensor  # [B, T]
    target: torch.Tensor  # [B, T]
    query: torch.Tensor  # [B, Q]

    def to(self, device: Any) -> MixtureBatch:
        return MixtureBatch(self.mixture.to(device), self.target.to(device), self.query.to(device))


def collate_mixtures(items: list[dict[str, torch.Tensor]]) -> MixtureBatch:
    return MixtureBatch(*(torch.stack([item[key] for item in items]) for key in
                          ("mixture", "target", "query")))  # fmt: skip


def negative_si_sdr(estimate: torch.Tensor, target: torch.Tensor, max_sdr: float) -> torch.Tensor:
    """``[B, T]`` each -> ``[B]``: minus the SI-SDR in dB, no lower than ``-max_sdr``."""
    scale = (estimate * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + 1e-8)
    projection = scale * target
    noise = estimate - projection
    ratio = projection.pow(2).sum(-1) / (noise.pow(2).sum(-1) + 1e-8)
    return -(10 * torch.log10(ratio + 1e-8)).clamp(max=max_sdr)


class SeparationTask:
    """One step: mask the mixture for the query; SI-SDR and magnitude losses."""

    def __init__(self, config: SeparationTrainConfig, ema: Ema | None) -> None:
        self.config = config
        self.ema = ema

    def train_step(self, batch: MixtureBatch, step: int, update: Updater) -> dict[str, float]:
        model = update.modules["separator"]
        net = update.accelerator.unwrap_model(model)
        estimate = model(batch.mixture, batch.query)  # [B, T]
        target = batch.target
        audible = target.pow(2).mean(-1) > 1e-7  # [B]: an SI-SDR needs a target
        sdr = negative_si_sdr(estimate, target, self.config.max_sdr)
        sdr_loss = (sdr * audible).sum() / audible.sum().clamp(min=1)
        n_fft = net.config.n_fft
        magnitude = (stft(estimate, n_fft).abs() + 1e-6) ** 0.3 - (
            stft(target, n_fft).abs() + 1e-6
        ) ** 0.3
        mag_loss = magnitude.abs().mean()
        loss = sdr_loss / 10 + self.config.magnitude_weight * mag_loss
        update("separator", loss)
        if self.ema is not None:
            self.ema.update(net)
        return {"loss": loss.item(), "si_sdr": -sdr_loss.item(), "magnitude": mag_loss.item()}


def build_net(config: SeparationTrainConfig) -> MaskNet:
    """A fresh network sized by the recipe, or ``init_from``'s."""
    if config.init_from is not None:
        from tokgen.pipeline import model_dir

        return load_separator_net(model_dir(config.init_from))
    return MaskNet(config_from_dict(MaskNetConfig, dict(config.model), source="recipe [model]"))


def train_separation(
    config: SeparationTrainConfig, queries: Callable[[list[str]], torch.Tensor] | None = None
) -> Path:
    """Train (or resume) the mask separator; returns the exported ``out_dir/model`` folder.
    ``queries`` embeds captions ``[N] -> [N, Q]`` (default: the MiniLM caption encoder)."""
    if queries is None:
        from tokgen.text.captions import caption_encoder

        queries = caption_encoder().encode
    torch.manual_seed(config.run.seed)
    net = build_net(config)
    dataset = MixtureItems(config.data, net.config.sample_rate, queries)
    ema = Ema(net, config.ema.decay) if config.ema.decay > 0 else None
    trainer = Trainer(
        config.run,
        config.optim,
        {"separator": net},
        dataset,
        batch_size=config.data.batch_size,
        num_workers=config.data.num_workers,
        config=asdict(config),
        collate_fn=collate_mixtures,
    )
    if ema is not None:
        trainer.accelerator.register_for_checkpointing(ema)
    export = Path(config.run.out_dir) / MODEL_DIR

    def on_save(t: Trainer) -> None:
        save_separator(ema.model if ema is not None else t.unwrap("separator"), export)

    trainer.fit(SeparationTask(config, ema).train_step, on_save=on_save)
    return export
