"""``tokgen train diffusion``: the latent DiT on a latent corpus (``data tokenize --latents``).

Each item is a random crop (at most ``data.segment_seconds``) of one clip's latent and one
of its captions, dropped with ``data.caption_dropout`` so guidance works; shorter clips are
padded and masked. The loss is the objective's MSE on the real frames. An EMA of the
weights is kept (checkpointed with the run) and is what gets exported. Latent statistics
(per channel) come from the training latents and are stored in the model.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset

from tokgen.data.token_corpus import TokenCorpus, read_latent_corpus
from tokgen.diffusion.config import DiffusionConfig
from tokgen.diffusion.model import Conditioning, LatentDiT, caption_batch
from tokgen.diffusion.objective import add_noise
from tokgen.diffusion.pipeline import load_dit, save_diffusion
from tokgen.errors import ConfigError
from tokgen.hub import config_from_dict
from tokgen.training.config import OptimConfig, RunConfig, read_recipe
from tokgen.training.ema import Ema, EmaConfig, latent_statistics, pad_to_longest
from tokgen.training.trainer import MODEL_DIR, Trainer, Updater

STATES_NAME = "caption_states.safetensors"


@dataclass
class DiffusionDataConfig:
    latents: str  # a latent corpus: `tokgen data tokenize --latents`
    segment_seconds: float = 4.0  # longest crop
    caption_dropout: float = 0.1  # share of items trained without their caption
    batch_size: int = 16
    num_workers: int = 0


@dataclass
class DiffusionTrainConfig:
    """``tokgen train diffusion`` recipe: model sizes, latent data, run, optimizer, EMA."""

    data: DiffusionDataConfig
    run: RunConfig
    model: dict[str, Any] = field(default_factory=dict)  # DiffusionConfig fields
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    init_from: str | None = None  # a diffusion model to fine-tune (folder or shipped name)


def load_diffusion_train_config(
    path: str | Path, overrides: list[str] = ()
) -> DiffusionTrainConfig:
    """Read a diffusion recipe and apply ``section.key=value`` overrides."""
    classes = {"data": DiffusionDataConfig, "run": RunConfig, "optim": OptimConfig,
               "ema": EmaConfig}  # fmt: skip
    raw, parts = read_recipe(path, overrides, DiffusionTrainConfig, ("data", "run"), classes)
    return DiffusionTrainConfig(model=raw.get("model") or {}, init_from=raw.get("init_from"),
                                **parts)  # fmt: skip


class CaptionStates:
    """Every training caption -> its MiniLM token states ``[L, 384]`` (cached in the run,
    in float16: the cache travels with the latents to an accelerator)."""

    def __init__(self, strings: set[str], cache: Path) -> None:
        known: dict[str, torch.Tensor] = {}
        if cache.is_file():
            names = json.loads(cache.with_suffix(".json").read_text())
            flat = load_file(str(cache))
            offsets = flat["offsets"].tolist()
            states = flat["states"].float()
            known = {n: states[offsets[i] : offsets[i + 1]] for i, n in enumerate(names)}
        missing = sorted(strings - set(known))
        if missing:
            from tokgen.text import caption_encoder

            fresh = caption_encoder().encode_tokens(missing)
            # as stored, so a run that computed them and one that read them see the same
            known.update((text, state.half().float()) for text, state in zip(missing, fresh))
            names = sorted(known)
            lengths = [known[n].shape[0] for n in names]
            offsets = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()])
            cache.parent.mkdir(parents=True, exist_ok=True)
            states = torch.cat([known[n] for n in names]).half()  # small enough to carry
            save_file({"states": states, "offsets": offsets}, str(cache))
            cache.with_suffix(".json").write_text(json.dumps(names))
        self.states = known

    def __getitem__(self, text: str) -> torch.Tensor:
        return self.states[text]


@dataclass
class LatentBatch:
    latents: torch.Tensor  # [B, D, F] codec latents, zero past each item's frames
    frame_mask: torch.Tensor  # [B, F] bool
    cond: Conditioning

    def to(self, device: Any) -> LatentBatch:
        return LatentBatch(
            self.latents.to(device), self.frame_mask.to(device), self.cond.to(device)
        )


class LatentCrops(Dataset):
    """Items keyed ``(index, seed)``: a random crop of clip ``index`` and one caption."""

    def __init__(
        self,
        corpus: TokenCorpus,
        latents: list[torch.Tensor],
        captions: CaptionStates,
        data: DiffusionDataConfig,
    ) -> None:
        """``latents``: every row's ``[D, F_i]``, as read from ``corpus``."""
        self.rows = [(i, row) for i, row in enumerate(corpus.rows) if row.get("captions")]
        if not self.rows:
            raise ConfigError(f"{corpus.folder} has no rows with captions to train on.")
        self.latents = [latents[i].half() for i, _ in self.rows]  # [D, F_i] each
        self.captions = captions
        self.frames = round(data.segment_seconds * corpus.header.frame_rate)
        self.frame_rate = corpus.header.frame_rate
        self.dropout = data.caption_dropout

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, seed = key
        rng = random.Random(seed)
        latent = self.latents[index]
        start = rng.randrange(max(1, latent.shape[-1] - self.frames + 1))
        crop = latent[:, start : start + self.frames].float()  # [D, <= frames]
        captions = self.rows[index][1]["captions"]
        caption = None if rng.random() < self.dropout else rng.choice(captions)
        return {"latent": crop, "states": None if caption is None else self.captions[caption]}


def collate_crops(
    items: list[dict[str, Any]], dim: int, max_tokens: int, rate: float
) -> LatentBatch:
    """Crops ``[D, F_i]`` padded to the longest, with their masks and conditioning."""
    latents, mask = pad_to_longest([item["latent"] for item in items])  # [B, D, F], [B, F]
    states, states_mask = caption_batch([item["states"] for item in items], dim, max_tokens)
    seconds = mask.sum(-1).float() / rate
    return LatentBatch(latents, mask, Conditioning(states, states_mask, seconds))


class Collate:
    """Picklable collate function (data-loader workers may be spawned)."""

    def __init__(self, config: DiffusionConfig) -> None:
        self.config = config

    def __call__(self, items: list[dict[str, Any]]) -> LatentBatch:
        c = self.config
        return collate_crops(items, c.caption_dim, c.max_caption_tokens, c.frame_rate)


class DiffusionTask:
    """One step: noise the normalised latents, predict the target, masked MSE."""

    def __init__(self, config: DiffusionConfig, seed: int, ema: Ema | None) -> None:
        self.config = config
        self.seed = seed
        self.ema = ema

    def train_step(self, batch: LatentBatch, step: int, update: Updater) -> dict[str, float]:
        model = update.modules["dit"]
        dit = update.accelerator.unwrap_model(model)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        mask = batch.frame_mask[:, None]  # [B, 1, F]: padding stays 0, as when sampling
        x0 = dit.normalize(batch.latents) * mask
        noise = torch.randn(x0.shape, generator=generator).to(x0.device) * mask
        noised = add_noise(self.config, x0, noise, generator)
        prediction = model(noised.noisy, noised.time, batch.cond, batch.frame_mask)
        weights = mask.to(prediction.dtype)
        error = (prediction.float() - noised.target) ** 2 * weights
        loss = error.sum() / (weights.sum() * x0.shape[1])
        update("dit", loss)
        if self.ema is not None:
            self.ema.update(dit)
        return {"loss": loss.item()}


def build_dit(
    config: DiffusionTrainConfig, corpus: TokenCorpus, latents: list[torch.Tensor]
) -> LatentDiT:
    """A fresh denoiser sized by the recipe for the corpus' codec (its statistics from the
    corpus' ``latents``), or the ``init_from`` one."""
    header = corpus.header
    if config.init_from is not None:
        from tokgen.pipeline import model_dir  # resolves shipped names

        dit = load_dit(model_dir(config.init_from))
        if dit.config.codec != header.codec:
            raise ConfigError(
                f"{config.init_from} models {dit.config.codec!r} latents; {corpus.folder} holds "
                f"{header.codec!r} latents."
            )
        return dit
    latent_dim = latents[0].shape[0]
    fields = {"codec": header.codec, "latent_dim": latent_dim, "frame_rate": header.frame_rate,
              **config.model}  # fmt: skip
    dit = LatentDiT(config_from_dict(DiffusionConfig, fields, source="recipe [model]"))
    dit.set_statistics(*latent_statistics(latents))
    return dit


def train_diffusion(config: DiffusionTrainConfig) -> Path:
    """Train (or resume) the latent DiT; returns the exported ``out_dir/model`` folder."""
    torch.manual_seed(config.run.seed)
    corpus, latents = read_latent_corpus(config.data.latents, "music,sound_event")  # [D, F_i]
    dit = build_dit(config, corpus, latents)
    out_dir = Path(config.run.out_dir)
    strings = {c for row in corpus.rows for c in row.get("captions") or []}
    captions = CaptionStates(strings, out_dir / STATES_NAME)
    dataset = LatentCrops(corpus, latents, captions, config.data)
    ema = Ema(dit, config.ema.decay) if config.ema.decay > 0 else None
    trainer = Trainer(
        config.run,
        config.optim,
        {"dit": dit},
        dataset,
        batch_size=config.data.batch_size,
        num_workers=config.data.num_workers,
        config=asdict(config),
        collate_fn=Collate(dit.config),
    )
    if ema is not None:
        trainer.accelerator.register_for_checkpointing(ema)
    task = DiffusionTask(dit.config, config.run.seed, ema)
    export = out_dir / MODEL_DIR

    def on_save(t: Trainer) -> None:
        save_diffusion(ema.model if ema is not None else t.unwrap("dit"), export)

    trainer.fit(task.train_step, on_save=on_save)
    return export
