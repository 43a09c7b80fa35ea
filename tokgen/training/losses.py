"""Reconstruction and adversarial losses for codec training."""

from __future__ import annotations

import torch
from torch import nn


class MultiScaleMelLoss(nn.Module):
    """Sum over STFT sizes of L1 between mel spectrograms and between their logs.

    Each scale has ``min(n_mels, n_fft // 8)`` bands. With 64, bands above ~1 kHz are wider
    than the spacing of a voice's harmonics, so the loss cannot see them and a decoder
    learns a smooth envelope; 256 bands at ``n_fft`` 2048 resolve them (as DAC's 320 do).
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


class CompressedComplexSTFTLoss(nn.Module):
    """Multi-resolution MSE between power-law compressed spectra, complex and magnitude-only.

    ``|X|^c e^{i angle X}`` keeps the phase, so unlike a mel loss this term teaches the
    decoder to match the waveform; the compression (c = 0.3) weights quiet bins up
    (Braun & Tashev 2021). Inputs are ``[B, C, T]``.
    """

    def __init__(
        self,
        n_ffts: tuple[int, ...] = (256, 512, 1024),
        compress: float = 0.3,
        complex_share: float = 0.3,
    ) -> None:
        super().__init__()
        self.n_ffts = n_ffts
        self.compress = compress
        self.complex_share = complex_share
        for n_fft in n_ffts:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)

    def _compressed(self, wav: torch.Tensor, n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
        spec = torch.stft(
            wav.flatten(0, 1),  # [B*C, T]
            n_fft,
            hop_length=n_fft // 4,
            window=getattr(self, f"window_{n_fft}"),
            return_complex=True,
        )  # [B*C, F, frames]
        magnitude = (spec.real.square() + spec.imag.square() + 1e-10).sqrt()
        compressed = magnitude.pow(self.compress)
        return compressed, spec * (compressed / magnitude)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for n_fft in self.n_ffts:
            pred_mag, pred_complex = self._compressed(pred, n_fft)
            target_mag, target_complex = self._compressed(target, n_fft)
            complex_err = (pred_complex - target_complex).abs().square().mean()
            magnitude_err = (pred_mag - target_mag).square().mean()
            total = total + self.complex_share * complex_err
            total = total + (1 - self.complex_share) * magnitude_err
        return total / len(self.n_ffts)


def spectral_magnitude_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Spectral convergence plus L1 of log magnitudes, for magnitudes ``[B, bins, F]``."""
    convergence = (target - pred).norm() / target.norm().clamp_min(1e-5)
    log_l1 = (pred.clamp_min(1e-5).log() - target.clamp_min(1e-5).log()).abs().mean()
    return convergence + log_l1


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
