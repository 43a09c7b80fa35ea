"""Training objectives and their diffusers samplers.

* ``v``: discrete cosine-schedule diffusion (``squaredcos_cap_v2``, 1000 steps),
  ``x_t = a x0 + s n`` with ``a^2 + s^2 = 1``, the network predicting ``v = a n - s x0``;
  sampled with DPM-Solver++ (``DPMSolverMultistepScheduler``, 2nd order, trailing steps).
* ``flow``: flow matching, ``x_t = (1 - t) x0 + t n`` with ``t`` logit-normal, the network
  predicting the velocity ``n - x0``; sampled with ``FlowMatchEulerDiscreteScheduler``.

The network always sees the noise level as ``time`` in [0, 1] (``t / 1000`` or ``t``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from tokgen.diffusion.config import DiffusionConfig

BETA_SCHEDULE = "squaredcos_cap_v2"


@dataclass
class NoisedBatch:
    """One training draw: the noisy input, the network's time input and its target."""

    noisy: torch.Tensor  # [B, D, F]
    time: torch.Tensor  # [B] in [0, 1]
    target: torch.Tensor  # [B, D, F]


def alphas_cumprod(config: DiffusionConfig) -> torch.Tensor:
    """The ``[train_timesteps]`` signal levels ``a^2`` of the ``v`` objective's schedule
    (built once per step count: every training step reads it)."""
    return _alphas_cumprod(config.train_timesteps)


@functools.cache
def _alphas_cumprod(train_timesteps: int) -> torch.Tensor:
    from diffusers import DDPMScheduler

    schedule = DDPMScheduler(num_train_timesteps=train_timesteps, beta_schedule=BETA_SCHEDULE)
    return schedule.alphas_cumprod.float()  # indexed by callers, never changed


def add_noise(
    config: DiffusionConfig, x0: torch.Tensor, noise: torch.Tensor, generator: torch.Generator
) -> NoisedBatch:
    """Draw a noise level per item and corrupt clean ``x0 [B, D, F]`` with ``noise``."""
    batch = x0.shape[0]
    if config.objective == "v":
        steps = torch.randint(0, config.train_timesteps, (batch,), generator=generator)
        levels = alphas_cumprod(config)[steps].to(x0.device)
        a, s = levels.sqrt()[:, None, None], (1 - levels).sqrt()[:, None, None]
        time = (steps.float() / config.train_timesteps).to(x0.device)
        return NoisedBatch(a * x0 + s * noise, time, a * noise - s * x0)
    t = torch.sigmoid(torch.randn(batch, generator=generator)).to(x0.device)  # logit-normal
    tt = t[:, None, None]
    return NoisedBatch((1 - tt) * x0 + tt * noise, t, noise - x0)


def make_scheduler(config: DiffusionConfig) -> Any:
    """A fresh diffusers scheduler for the objective (kept per call: they hold state)."""
    if config.objective == "v":
        from diffusers import DPMSolverMultistepScheduler

        return DPMSolverMultistepScheduler(
            num_train_timesteps=config.train_timesteps,
            beta_schedule=BETA_SCHEDULE,
            prediction_type="v_prediction",
            algorithm_type="dpmsolver++",
            solver_order=2,
            timestep_spacing="trailing",
            final_sigmas_type="zero",
        )
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=config.train_timesteps)


def start_noise(scheduler: Any, noise: torch.Tensor) -> torch.Tensor:
    """The sampler's first input from unit ``noise`` (flow schedulers start at noise)."""
    return noise * getattr(scheduler, "init_noise_sigma", 1.0)


def scaled_input(scheduler: Any, x: torch.Tensor, timestep: Any) -> torch.Tensor:
    """``x`` as the network reads it at ``timestep`` (DPM-Solver: unchanged; flow: as is)."""
    scale = getattr(scheduler, "scale_model_input", None)
    return x if scale is None else scale(x, timestep)


def model_time(config: DiffusionConfig, timestep: torch.Tensor) -> float:
    """A scheduler timestep -> the network's ``time`` in [0, 1]."""
    return float(timestep) / config.train_timesteps


def noised_known(
    scheduler: Any, config: DiffusionConfig, x0: torch.Tensor, noise: torch.Tensor, timestep: Any
) -> torch.Tensor:
    """Known frames ``x0`` brought to the noise level of ``timestep`` (for inpainting)."""
    t = torch.as_tensor([timestep]).reshape(1)
    if config.objective == "v":
        return scheduler.add_noise(x0, noise, t.long())
    return scheduler.scale_noise(x0, t.float(), noise)
