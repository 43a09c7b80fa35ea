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
from tokgen.tasks import get_task, register_task, task_as_dict, task_from_dict

KIND = "tokgen-lm"


def save_lm(model: CodecLM, path: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
    """Write the model with its config and the definitions of the tasks it knows."""
    config = {
        "kind": KIND,
        "lm": dataclasses.asdict(model.config),
        "tasks": [task_as_dict(get_task(name)) for name in model.config.tasks],
    }
    return hub.save_checkpoint(path, config, model.state_dict(), dtype=dtype)


def load_lm(path: str | os.PathLike) -> CodecLM:
    """Build the model from ``config.json``, load its weights and register its tasks."""
    config, state = hub.load_checkpoint(path)
    if config.get("kind") != KIND:
        raise ConfigError(f"{path} is not a tokgen LM checkpoint (kind {config.get('kind')!r}).")
    for raw in config["tasks"]:
        register_task(task_from_dict(raw, source=f"{path} task"), replace=True)
    model = CodecLM(hub.config_from_dict(LMConfig, config["lm"], source=f"{path} [lm]"))
    model.load_state_dict(state)
    return model.eval()
