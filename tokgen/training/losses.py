"""Reconstruction and adversarial losses for codec training."""

from __future__ import annotations

import torch
from torch import nn


class MultiScaleMelLoss(nn.Module):
    """Sum over STFT sizes of L1 between mel spectrograms and between their logs.

    Inputs are ``[B, C, T]``; silence is safe (log of a clamped magnitude).
    """

    def __init__(
        self, sample_rate: int, n_ffts: tuple[int, ...] = (256, 512, 1024, 2048), n_mels: int = 64
    ) -> None:
        super().__init__()
        import torchaudio

        self.transforms = nn.ModuleList(
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate,
                n_fft=n_fft,
                hop_length=n_fft // 4,
                n_mels=min(n_mels, n_fft // 8),
                power=1.0,
                center=True,
            )
            for n_fft in n_ffts
        )

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for mel in self.transforms:
            p, t = mel(pred), mel(target)  # [B, C, n_mels, frames]
            total = total + (p - t).abs().mean()
            total = total + (p.clamp_min(1e-5).log() - t.clamp_min(1e-5).log()).abs().mean()
        return total / len(self.transforms)


def discriminator_hinge_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Hinge loss for the discriminator over its sub-discriminators' logits."""
    losses = [torch.relu(1 - r).mean() + torch.relu(1 + f).mean() for r, f in zip(real, fake)]
    return torch.stack(losses).mean()


def generator_hinge_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([torch.relu(1 - f).mean() for f in fake]).mean()


def feature_matching_loss(
    real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]
) -> torch.Tensor:
    """L1 between discriminator feature maps, each scaled by the real map's mean magnitude."""
    losses = [
        (f - r.detach()).abs().mean() / (r.detach().abs().mean() + 1e-5)
        for real_maps, fake_maps in zip(real, fake)
        for r, f in zip(real_maps, fake_maps)
    ]
    return torch.stack(losses).mean()
