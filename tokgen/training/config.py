"""Typed training configs read from YAML recipes, with ``section.key=value`` overrides."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tokgen.errors import ConfigError
from tokgen.hub import config_from_dict, read_yaml
from tokgen.lm.config import LMConfig


@dataclass
class DataConfig:
    train: str  # a JSONL manifest (rows with "path") or a folder of audio files
    segment_seconds: float = 1.0
    batch_size: int = 8
    num_workers: int = 0


@dataclass
class OptimConfig:
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    warmup_steps: int = 0  # linear learning-rate warm-up over this many steps


@dataclass
class RunConfig:
    out_dir: str
    max_steps: int
    seed: int = 0
    log_every: int = 50
    save_every: int = 500
    keep_checkpoints: int = 2
    mixed_precision: str = "no"  # accelerate's: no | fp16 | bf16 (bf16: faster on AMX CPUs)
    max_minutes: float | None = None  # stop (checkpoint, export) after this wall time

    def __post_init__(self) -> None:
        if self.mixed_precision is False:  # YAML 1.1 reads a bare `no` as false
            self.mixed_precision = "no"
        if self.mixed_precision not in MIXED_PRECISIONS:
            raise ConfigError(
                f"run.mixed_precision must be one of {MIXED_PRECISIONS}, "
                f"got {self.mixed_precision!r}."
            )


MIXED_PRECISIONS = ("no", "fp16", "bf16")


@dataclass
class CodecLossConfig:
    l1: float = 0.1  # waveform L1
    mel: float = 1.0  # multi-scale mel (linear + log)
    mel_bins: int = 64  # most mel bands per scale (n_fft // 8 at most): 256+ resolves harmonics
    complex_stft: float = 0.0  # compressed complex STFT (phase-aware; matches the waveform)
    frame_magnitude: float = 0.0  # an STFT decoder's magnitudes vs the target's (vocos only)
    commitment: float = 1.0  # VQ commitment
    adversarial: float = 3.0  # used only with the discriminator
    feature: float = 3.0  # feature matching, only with the discriminator


@dataclass
class DiscriminatorConfig:
    enabled: bool = False
    kind: str = "ms_stft"  # encodec's MS-STFT on the waveform, or "magnitude" (vocos decoders)
    filters: int = 32  # width of the discriminator
    start_step: int = 0  # adversarial losses start after this step


@dataclass
class QuantizerConfig:
    dropout: float = 0.0  # share of batches quantized with a random number of codebooks
    min_codebooks: int = 1  # the smallest number drawn when a batch drops codebooks


@dataclass
class CodecTrainConfig:
    """``tokgen train codec`` recipe: which codec, data, optimizer, run, losses."""

    codec: Any  # a codec name (e.g. "tokgen-codec-16k") or a full config mapping
    data: DataConfig
    run: RunConfig
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: CodecLossConfig = field(default_factory=CodecLossConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    init_from: str | None = None  # a saved codec dir whose weights start a fresh run
    init_parts: list[str] | None = None  # parts taken from init_from (default: all)
    freeze: list[str] = field(
        default_factory=list
    )  # codec parts kept fixed, e.g. [encoder, quantizer]


def read_recipe(
    path: str | Path,
    overrides: list[str],
    recipe: type,
    required: tuple[str, ...],
    sections: dict[str, type],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one recipe loader: YAML + ``section.key=value`` overrides (values parsed as YAML),
    sections checked against ``recipe``'s fields; returns ``(raw, typed sections)``."""
    raw = read_yaml(path)
    for item in overrides:
        _apply_override(raw, item)
    known = {f.name for f in dataclasses.fields(recipe)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; known: {sorted(known)}.")
    for name in required:
        if name not in raw:
            raise ConfigError(f"{path}: the recipe needs a {name!r} section.")
    parts = {
        name: config_from_dict(cls, raw.get(name) or {}, source=f"{path} [{name}]")
        for name, cls in sections.items()
    }
    return raw, parts


def load_codec_train_config(path: str | Path, overrides: list[str] = ()) -> CodecTrainConfig:
    """Read a codec recipe and apply ``section.key=value`` overrides (values parsed as YAML)."""
    classes = {
        "data": DataConfig,
        "run": RunConfig,
        "optim": OptimConfig,
        "loss": CodecLossConfig,
        "discriminator": DiscriminatorConfig,
        "quantizer": QuantizerConfig,
    }
    raw, parts = read_recipe(path, overrides, CodecTrainConfig, ("codec", "data", "run"), classes)
    return CodecTrainConfig(
        codec=raw["codec"],
        init_from=raw.get("init_from"),
        init_parts=list(raw["init_parts"]) if raw.get("init_parts") else None,
        freeze=list(raw.get("freeze") or []),
        **parts,
    )


@dataclass
class LMDataConfig:
    tokens: str  # a token corpus from `tokgen data tokenize` (with --with-sources for lass)
    tasks: dict[str, float] = field(default_factory=lambda: {"tts": 1.0})  # sampling ratios
    task_files: list[str] = field(default_factory=list)  # YAML-declared tasks the model learns
    batch_size: int = 16
    num_workers: int = 0


@dataclass
class LoraConfig:
    rank: int = 0  # 0: full fine-tuning; > 0: LoRA adapters (peft) on the attention/MLP
    alpha: float = 16.0
    targets: list[str] = field(default_factory=lambda: ["qkv", "out"])


@dataclass
class LMTrainConfig:
    """``tokgen train lm`` recipe: model sizes, token data and task mix, run, optimizer."""

    data: LMDataConfig
    run: RunConfig
    model: dict[str, Any] = field(default_factory=dict)  # LMConfig fields
    optim: OptimConfig = field(default_factory=OptimConfig)
    init_from: str | None = None  # an LM directory to fine-tune (its sizes win over model)
    lora: LoraConfig = field(default_factory=LoraConfig)

    def lm_config(self, **defaults: Any) -> LMConfig:
        """The model's :class:`LMConfig`: ``defaults``, then the recipe's ``model`` fields;
        its tasks default to the recipe's task mix."""
        fields = {**defaults, **self.model}
        fields.setdefault("tasks", list(self.data.tasks))
        return config_from_dict(LMConfig, fields, source="recipe [model]")

    def text_vocab(self) -> int:
        """The vocabulary size of the recipe's text front end (``model.text_frontend``), for
        a fresh model."""
        from tokgen.text import make_frontend

        return make_frontend(self.lm_config().text_frontend).vocab_size


def load_lm_train_config(path: str | Path, overrides: list[str] = ()) -> LMTrainConfig:
    """Read an LM recipe and apply ``section.key=value`` overrides (values parsed as YAML)."""
    classes = {"data": LMDataConfig, "run": RunConfig, "optim": OptimConfig, "lora": LoraConfig}
    raw, parts = read_recipe(path, overrides, LMTrainConfig, ("data", "run"), classes)
    return LMTrainConfig(model=raw.get("model") or {}, init_from=raw.get("init_from"), **parts)


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like section.key=value.")
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {part!r} is not a section.")
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str) and _EXPONENT_NUMBER.match(parsed):
        parsed = float(parsed)  # YAML 1.1 reads "2e-3" (no dot) as a string
    node[leaf] = parsed


_EXPONENT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
