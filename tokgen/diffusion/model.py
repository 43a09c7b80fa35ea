"""The denoiser: diffusers' ``StableAudioDiTModel``, configured small, over codec latents.

Latent frames ``[B, D, F]`` are normalised per channel (statistics in the checkpoint) and
grouped ``patch`` frames per position (``[B, D * patch, F / patch]``). The DiT attends to
the caption's MiniLM token states (cross-attention) and prepends one global token: the
pooled caption and Fourier features of the duration, plus the noise level (Stable Audio's
layout; rotary positions over the global token and the frames)::

    positions   [global | f0 f1 | f2 f3 | ... ]      (patch = 2)
    keys        caption tokens [CLS] w1 w2 ... [SEP]  (zeros when the caption is dropped)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from tokgen.codecs.latent_scale import LatentScale
from tokgen.diffusion.config import DiffusionConfig


@dataclass
class Conditioning:
    """What one denoising call is conditioned on, for ``B`` items."""

    states: torch.Tensor  # [B, L, caption_dim] caption token states (zeros: no caption)
    states_mask: torch.Tensor  # [B, L] bool, True on real tokens
    duration: torch.Tensor  # [B] seconds

    def to(self, device: torch.device | str) -> Conditioning:
        return Conditioning(
            self.states.to(device), self.states_mask.to(device), self.duration.to(device)
        )

    def dropped(self) -> Conditioning:
        """The same items without their captions (the unconditional branch of guidance)."""
        return Conditioning(torch.zeros_like(self.states), self.states_mask, self.duration)

    @staticmethod
    def cat(items: list[Conditioning]) -> Conditioning:
        """Items of several conditionings as one batch (caption tokens padded)."""
        length = max(c.states.shape[1] for c in items)

        def pad(x: torch.Tensor) -> torch.Tensor:
            return nn.functional.pad(x, (0, 0) * (x.ndim - 2) + (0, length - x.shape[1]))

        return Conditioning(
            torch.cat([pad(c.states) for c in items]),
            torch.cat([pad(c.states_mask) for c in items]),
            torch.cat([c.duration for c in items]),
        )


def caption_batch(states: list[torch.Tensor | None], dim: int, max_tokens: int) -> tuple:
    """Token states ``[L_i, dim]`` (None: no caption) -> padded ``[B, L, dim]`` and mask
    ``[B, L]``; at most ``max_tokens`` tokens each."""
    rows = [s[:max_tokens] if s is not None else torch.zeros(1, dim) for s in states]
    length = max(r.shape[0] for r in rows)
    padded = torch.zeros(len(rows), length, dim)
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for i, row in enumerate(rows):
        padded[i, : row.shape[0]] = row
        mask[i, : row.shape[0]] = True
    return padded, mask


class LatentDiT(LatentScale):
    """Predicts the objective's target (v or velocity) for noisy normalised latents."""

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        from diffusers import StableAudioDiTModel

        self.config = config
        channels = config.latent_dim * config.patch
        head = config.width // config.heads
        self.dit = StableAudioDiTModel(
            sample_size=math.ceil(config.max_frames / config.patch),
            in_channels=channels,
            num_layers=config.layers,
            attention_head_dim=head,
            num_attention_heads=config.heads,
            num_key_value_attention_heads=config.heads,
            out_channels=channels,
            cross_attention_dim=config.width,
            time_proj_dim=256,
            global_states_input_dim=config.global_dim,
            cross_attention_input_dim=config.caption_dim,
        )
        # [D] statistics of the training latents; samples are clamped to their range
        self.register_latent_statistics(config.latent_dim)
        # checkpoints from before the range keep the one this module was built with
        self.register_load_state_dict_pre_hook(_keep_missing_range)
        self._rotary: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    # ---- denoising ---------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        time: torch.Tensor,
        cond: Conditioning,
        frame_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Noisy ``x [B, D, F]`` at noise level ``time [B]`` (in [0, 1]) -> prediction
        ``[B, D, F]``; ``frame_mask [B, F]`` (True: real frames) hides the padding."""
        batch, _, frames = x.shape
        p = self.config.patch
        x = self._fold(x)  # [B, D*p, N]
        positions = x.shape[-1]
        mask = None
        if frame_mask is not None:
            padded = nn.functional.pad(frame_mask, (0, positions * p - frames))
            mask = padded.reshape(batch, positions, p).any(-1)  # [B, N]
        pooled = _masked_mean(cond.states, cond.states_mask)  # [B, C]
        global_states = torch.cat([pooled, self._duration_features(cond.duration)], dim=-1)
        out = self.dit(
            x,
            time,
            encoder_hidden_states=cond.states,
            global_hidden_states=global_states[:, None],
            rotary_embedding=self._rotary_embedding(positions + 1, x.device),
            attention_mask=mask,
            encoder_attention_mask=cond.states_mask,
            return_dict=False,
        )[0]  # [B, D*p, N]
        return self._unfold(out, frames)

    def output_basis(self) -> torch.Tensor:
        """Orthonormal columns ``[D*p, r]`` spanning what the DiT can output per position:
        its last layers are linear (``proj_out``, then ``postprocess_conv`` plus a skip), so
        with ``D * patch`` channels from ``width`` features every prediction lies in this
        ``r <= width`` dimensional subspace."""
        weight = self.dit.proj_out.weight.float()  # [D*p, width]
        mix = self.dit.postprocess_conv.weight[:, :, 0].float()  # [D*p, D*p]
        return torch.linalg.qr(weight + mix @ weight).Q

    def off_span(self, x: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
        """The part of normalised ``x [B, D, F]`` outside ``basis`` (see
        :meth:`output_basis`), per position: what the model can neither predict nor remove,
        so sampling sets it to the data mean (zero). Zero where ``D * patch <= width``."""
        folded = self._fold(x)  # [B, D*p, N]
        outside = folded - basis @ (basis.T @ folded)
        return self._unfold(outside, x.shape[-1])

    def _fold(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, D, F]`` -> ``[B, D*p, N]``: ``patch`` frames per position (zero-padded)."""
        batch, dim, frames = x.shape
        p = self.config.patch
        positions = math.ceil(frames / p)
        x = nn.functional.pad(x, (0, positions * p - frames))
        x = x.reshape(batch, dim, positions, p).permute(0, 1, 3, 2)  # [B, D, p, N]
        return x.reshape(batch, dim * p, positions)

    def _unfold(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """``[B, D*p, N]`` -> ``[B, D, F]`` (the inverse of :meth:`_fold`)."""
        batch, _, positions = x.shape
        p = self.config.patch
        x = x.reshape(batch, -1, p, positions).permute(0, 1, 3, 2)
        return x.reshape(batch, -1, positions * p)[:, :, :frames]

    def _duration_features(self, seconds: torch.Tensor) -> torch.Tensor:
        """``[B]`` seconds -> ``[B, duration_features]`` sines and cosines."""
        half = self.config.duration_features // 2
        scaled = (seconds / self.config.max_duration)[:, None].float()  # [B, 1]
        angles = math.pi * scaled * torch.arange(1, half + 1, device=seconds.device)  # [B, H]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    def _rotary_embedding(self, length: int, device: torch.device) -> tuple:
        """diffusers' rotary (cos, sin) for ``length`` positions, cached per length."""
        from diffusers.models.embeddings import get_1d_rotary_pos_embed

        if length not in self._rotary:
            head = self.config.width // self.config.heads
            self._rotary[length] = get_1d_rotary_pos_embed(
                head // 2, length, use_real=True, repeat_interleave_real=False
            )
        return tuple(part.to(device) for part in self._rotary[length])


def _keep_missing_range(module: LatentDiT, state: dict, prefix: str, *args: object) -> None:
    for name in ("latent_low", "latent_high"):
        state.setdefault(prefix + name, getattr(module, name).clone())


def _masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``states [B, L, C]`` over the True positions of ``mask [B, L]``."""
    weights = mask.to(states.dtype)[..., None]  # [B, L, 1]
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1)
