"""LM checkpoints: ``config.json`` ({lm: LMConfig, tasks: [TaskSpec]}) + ``model.safetensors``."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from tokgen import hub
from tokgen.errors import ConfigError
from tokgen.lm.config import LMConfig
from tokgen.lm.model import CodecLM
from tokgen.tasks import TaskSpec, task_as_dict, task_from_dict

KIND = "tokgen-lm"


def save_lm(model: CodecLM, path: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
    """Write the model with its config and the definitions of the tasks it knows."""
    config = {
        "kind": KIND,
        "lm": dataclasses.asdict(model.config),
        "tasks": [task_as_dict(model.task_specs[name]) for name in model.config.tasks],
    }
    return hub.save_checkpoint(path, config, model.state_dict(), dtype=dtype)


def load_lm(path: str | os.PathLike) -> CodecLM:
    """Build the model from ``config.json`` with its own task specs and load its weights."""
    config, state = hub.load_checkpoint(path)
    model = CodecLM(_lm_config(config, path), _task_specs(config, path))
    model.load_state_dict(state)
    return model.eval()


def read_lm_info(path: str | os.PathLike) -> tuple[LMConfig, dict[str, TaskSpec]]:
    """The :class:`LMConfig` and task specs of an LM checkpoint, from one read of its
    ``config.json`` (no weights)."""
    config = hub.read_config(path)
    specs = _task_specs(config, path)  # checks the kind first
    return _lm_config(config, path), specs


def _lm_config(config: dict, path: str | os.PathLike) -> LMConfig:
    lm = {"extra_markers": 0, **config["lm"]}  # checkpoints from before the reserved markers
    return hub.config_from_dict(LMConfig, lm, source=f"{path} [lm]")


def _task_specs(config: dict, path: str | os.PathLike) -> dict[str, TaskSpec]:
    if config.get("kind") != KIND:
        raise ConfigError(f"{path} is not a tokgen LM checkpoint (kind {config.get('kind')!r}).")
    specs = [task_from_dict(raw, source=f"{path} task") for raw in config["tasks"]]
    return {spec.name: spec for spec in specs}
