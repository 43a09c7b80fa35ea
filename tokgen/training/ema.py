"""What the generative trainers share: an EMA of the weights, per-channel latent statistics
and padding of variable-length items into a batch."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class EmaConfig:
    decay: float = 0.999  # 0 disables the EMA (the raw weights are exported)


class Ema:
    """Exponential moving average of a module's weights (and a copy of its buffers)."""

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(module).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for ema, live in zip(self.model.parameters(), module.parameters()):
            ema.lerp_(live.detach().to(ema.dtype), 1 - decay)
        for ema, live in zip(self.model.buffers(), module.buffers()):
            ema.copy_(live)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


def latent_statistics(latents: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Per-channel mean, standard deviation, minimum and maximum ``[D]`` over every frame of
    ``latents`` (``[D, F_i]`` each)."""
    total = squares = low = high = None
    count = 0
    for latent in latents:
        latent = latent.double()  # [D, F]
        if total is None:
            total, squares = latent.sum(-1), (latent**2).sum(-1)
            low, high = latent.amin(-1), latent.amax(-1)
        else:
            total, squares = total + latent.sum(-1), squares + (latent**2).sum(-1)
            low, high = torch.minimum(low, latent.amin(-1)), torch.maximum(high, latent.amax(-1))
        count += latent.shape[-1]
    mean = total / count
    std = (squares / count - mean**2).clamp(min=0).sqrt()
    return mean.float(), std.float(), low.float(), high.float()


def pad_to_longest(tensors: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``[..., L_i]`` tensors -> ``[B, ..., L]`` zero-padded and the mask ``[B, L]``."""
    longest = max(t.shape[-1] for t in tensors)
    out = tensors[0].new_zeros(len(tensors), *tensors[0].shape[:-1], longest)
    mask = torch.zeros(len(tensors), longest, dtype=torch.bool)
    for i, t in enumerate(tensors):
        out[i, ..., : t.shape[-1]] = t
        mask[i, : t.shape[-1]] = True
    return out, mask
