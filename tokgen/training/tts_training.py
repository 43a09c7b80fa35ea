"""``tokgen train tts``: the duration TTS on a speech latent corpus and its phone alignments.

Inputs: a latent corpus of speech (``tokgen data tokenize --latents --kinds speech``) and the
phone durations of the same clips (``tokgen data align``). Each item is one clip: its timed
phones, its latent (the target) and, as the voice prompt, up to ``prompt_seconds`` of
*another* clip of the same voice (so the voice vector cannot carry the sentence). The loss
is L1 on the normalized latent over the real frames. An EMA of the weights is exported.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from tokgen.codecs.world_vocoder import WorldSettings
from tokgen.data.alignment import read_alignments
from tokgen.data.token_corpus import TokenCorpus, read_latent_corpus
from tokgen.errors import ConfigError
from tokgen.hub import config_from_dict
from tokgen.text.phones import PAD_ID, flite_phones
from tokgen.training.config import OptimConfig, RunConfig, read_recipe
from tokgen.training.ema import Ema, EmaConfig, latent_statistics, pad_to_longest
from tokgen.training.trainer import MODEL_DIR, Trainer, Updater
from tokgen.training.voice_augment import apply_change, random_change, world_settings
from tokgen.tts.model import DurationTTSConfig, DurationTTSNet, with_duration_head
from tokgen.tts.pipeline import load_tts_net, save_tts


@dataclass
class TTSDataConfig:
    latents: str  # a speech latent corpus: `tokgen data tokenize --latents --kinds speech`
    alignments: str  # its phone durations: `tokgen data align`
    prompt_seconds: float = 3.0  # longest voice prompt crop
    voice_augment: float = 0.0  # share of items given a virtual voice (voice_augment.py)
    augment_pitch: float = 0.25  # its ln F0 shift: uniform in [-x, x]
    augment_warp: float = 0.12  # its formant factor: exp of uniform in [-x, x]
    duration_weight: float = 1.0  # of the duration head's loss (model.voice_durations)
    batch_size: int = 16
    num_workers: int = 0


@dataclass
class TTSTrainConfig:
    """``tokgen train tts`` recipe: model sizes, data, run, optimizer, EMA."""

    data: TTSDataConfig
    run: RunConfig
    model: dict[str, Any] = field(default_factory=dict)  # DurationTTSConfig fields
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    init_from: str | None = None  # a duration TTS model to fine-tune (folder or shipped name)


def load_tts_train_config(path: str | Path, overrides: list[str] = ()) -> TTSTrainConfig:
    """Read a TTS recipe and apply ``section.key=value`` overrides."""
    classes = {"data": TTSDataConfig, "run": RunConfig, "optim": OptimConfig, "ema": EmaConfig}
    raw, parts = read_recipe(path, overrides, TTSTrainConfig, ("data", "run"), classes)
    return TTSTrainConfig(model=raw.get("model") or {}, init_from=raw.get("init_from"), **parts)


class SpeechItems(Dataset):
    """Items keyed ``(index, seed)``: clip ``index``'s phones, latent and another clip of its
    voice as the prompt (a random crop); with ``augment`` (a parametric codec's settings and
    the data config), both in the same random virtual voice."""

    def __init__(
        self,
        corpus: TokenCorpus,
        latents: list[torch.Tensor],
        alignments_path: str,
        prompt_seconds: float,
        augment: tuple[WorldSettings, TTSDataConfig] | None = None,
        flite_durations: bool = False,
    ) -> None:
        alignments = read_alignments(alignments_path)
        self.items = []  # (row index, Alignment)
        for i, row in enumerate(corpus.rows):
            a = alignments.get(row.get("id"))
            if a is not None and sum(a.durations) == latents[i].shape[-1]:
                self.items.append((i, a))
        if not self.items:
            raise ConfigError(
                f"no clip of {corpus.folder} has an alignment in {alignments_path} that matches "
                "its frames; run `tokgen data align` on the manifest the corpus was made from."
            )
        self.latents = latents
        self.by_voice: dict[str, list[int]] = defaultdict(list)  # voice -> item positions
        for position, (i, _) in enumerate(self.items):
            self.by_voice[corpus.rows[i].get("voice", "")].append(position)
        self.voices = [corpus.rows[i].get("voice", "") for i, _ in self.items]
        self.prompt_frames = max(1, round(prompt_seconds * corpus.header.frame_rate))
        self.augment = augment
        self.flite: list[list[int]] | None = None  # flite's own frames per phone, per item
        if flite_durations:
            rate = corpus.header.frame_rate
            self.flite = []
            for i, alignment in tqdm(self.items, desc="flite durations", unit="clip"):
                self.flite.append(flite_phones(corpus.rows[i]["transcript"]).frame_durations(rate))
                if len(self.flite[-1]) != len(alignment.ids):
                    raise ConfigError(
                        f"{alignments_path} gives clip {corpus.rows[i]['id']} other phones than "
                        "flite says now; align the manifest again (`tokgen data align`)."
                    )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        position, seed = key
        rng = random.Random(seed)
        index, alignment = self.items[position]
        others = [p for p in self.by_voice[self.voices[position]] if p != position] or [position]
        prompt = self.latents[self.items[rng.choice(others)][0]]
        start = rng.randrange(max(1, prompt.shape[-1] - self.prompt_frames + 1))
        latent, prompt = self.latents[index].float(), prompt[:, start : start + self.prompt_frames]
        if self.augment is not None:
            settings, data = self.augment
            change = random_change(rng, data.voice_augment, data.augment_pitch, data.augment_warp)
            latent, prompt = (apply_change(x.float(), change, settings) for x in (latent, prompt))
        item = {
            "phones": torch.tensor(alignment.ids),
            "durations": torch.tensor(alignment.durations),
            "latent": latent,  # [D, F]
            "prompt": prompt.float(),  # [D, Fp]
        }
        if self.flite is not None:
            item["flite"] = torch.tensor(self.flite[position])
        return item


@dataclass
class SpeechBatch:
    phones: torch.Tensor  # [B, P], 0 pads
    durations: torch.Tensor  # [B, P]
    latents: torch.Tensor  # [B, D, F]
    frame_mask: torch.Tensor  # [B, F]
    prompts: torch.Tensor  # [B, D, Fp]
    prompt_mask: torch.Tensor  # [B, Fp]
    flite: torch.Tensor | None = None  # [B, P] flite's own frames per phone

    def to(self, device: Any) -> SpeechBatch:
        return SpeechBatch(
            *(None if (v := getattr(self, f)) is None else v.to(device)
              for f in self.__dataclass_fields__)
        )  # fmt: skip


def collate_speech(items: list[dict[str, torch.Tensor]]) -> SpeechBatch:
    phones, _ = pad_to_longest([item["phones"] for item in items])
    durations, _ = pad_to_longest([item["durations"] for item in items])
    latents, frame_mask = pad_to_longest([item["latent"] for item in items])
    prompts, prompt_mask = pad_to_longest([item["prompt"] for item in items])
    flite = pad_to_longest([item["flite"] for item in items])[0] if "flite" in items[0] else None
    return SpeechBatch(phones, durations, latents, frame_mask, prompts, prompt_mask, flite)


class TTSTask:
    """One step: predict the normalized latent from timed phones and the prompt's voice (and,
    with a duration head, each phone's ln ratio of its aligned length to flite's)."""

    def __init__(self, ema: Ema | None, duration_weight: float = 1.0) -> None:
        self.ema = ema
        self.duration_weight = duration_weight

    def train_step(self, batch: SpeechBatch, step: int, update: Updater) -> dict[str, float]:
        model = update.modules["tts"]
        net = update.accelerator.unwrap_model(model)
        voice = net.voice(batch.prompts, batch.prompt_mask)
        prediction = model(
            batch.phones, batch.durations, voice, batch.latents.shape[-1], batch.flite is not None
        )
        if batch.flite is not None:
            prediction, scale = prediction
        mask = batch.frame_mask[:, None].to(prediction.dtype)  # [B, 1, F]
        error = (prediction.float() - net.normalize(batch.latents)).abs() * mask
        loss = error.sum() / (mask.sum() * prediction.shape[1])
        logs = {"loss": loss.item()}
        if batch.flite is not None:
            target = torch.log((batch.durations + 1.0) / (batch.flite + 1.0))  # [B, P]
            phone_mask = (batch.phones != PAD_ID).float()
            duration = ((scale.float() - target).abs() * phone_mask).sum() / phone_mask.sum()
            loss = loss + self.duration_weight * duration
            logs["duration"] = duration.item()
        update("tts", loss)
        if self.ema is not None:
            self.ema.update(net)
        return logs


def build_net(config: TTSTrainConfig, corpus: TokenCorpus, latents: list[torch.Tensor]) -> Any:
    """A fresh network sized by the recipe (statistics from ``latents``) or ``init_from``."""
    if config.init_from is not None:
        from tokgen.pipeline import model_dir

        net = load_tts_net(model_dir(config.init_from))
        if net.config.codec != corpus.header.codec:
            raise ConfigError(
                f"{config.init_from} models {net.config.codec!r} latents; {corpus.folder} holds "
                f"{corpus.header.codec!r} latents."
            )
        return with_duration_head(net) if config.model.get("voice_durations") else net
    fields = {"codec": corpus.header.codec, "latent_dim": latents[0].shape[0],
              "frame_rate": corpus.header.frame_rate, **config.model}  # fmt: skip
    net = DurationTTSNet(config_from_dict(DurationTTSConfig, fields, source="recipe [model]"))
    net.set_statistics(*latent_statistics(latents))
    return net


def train_tts(config: TTSTrainConfig) -> Path:
    """Train (or resume) the duration TTS; returns the exported ``out_dir/model`` folder."""
    torch.manual_seed(config.run.seed)
    corpus, latents = read_latent_corpus(config.data.latents, "speech")
    latents = [latent.half() for latent in latents]  # [D, F_i]
    net = build_net(config, corpus, latents)
    augment = None
    if config.data.voice_augment > 0:
        augment = (world_settings(corpus.header.codec), config.data)
    dataset = SpeechItems(
        corpus,
        latents,
        config.data.alignments,
        config.data.prompt_seconds,
        augment,
        flite_durations=net.config.voice_durations,
    )
    ema = Ema(net, config.ema.decay) if config.ema.decay > 0 else None
    trainer = Trainer(
        config.run,
        config.optim,
        {"tts": net},
        dataset,
        batch_size=config.data.batch_size,
        num_workers=config.data.num_workers,
        config=asdict(config),
        collate_fn=collate_speech,
    )
    if ema is not None:
        trainer.accelerator.register_for_checkpointing(ema)
    export = Path(config.run.out_dir) / MODEL_DIR

    def on_save(t: Trainer) -> None:
        save_tts(ema.model if ema is not None else t.unwrap("tts"), export)

    trainer.fit(TTSTask(ema, config.data.duration_weight).train_step, on_save=on_save)
    return export
