"""Spectrogram pictures: look at what a codec or model produced next to its reference."""

from __future__ import annotations

from pathlib import Path

import torch

from tokgen.errors import InvalidInputError

N_FFT = 1024
HOP = 160  # 10 ms at 16 kHz
DYNAMIC_RANGE_DB = 80.0


def log_spectrogram(wav: torch.Tensor) -> torch.Tensor:
    """Mono ``[T]`` -> dB magnitudes ``[bins, frames]`` (1024-point STFT, 160-sample hop)."""
    window = torch.hann_window(N_FFT)
    spec = torch.stft(wav.float().cpu(), N_FFT, HOP, window=window, return_complex=True)
    return 20 * spec.abs().clamp(min=1e-5).log10()


def save_spectrograms(
    path: str | Path, panels: list[tuple[str, torch.Tensor]], sample_rate: int
) -> Path:
    """Write a PNG of ``(title, mono audio [T])`` panels side by side, on one colour scale."""
    if not panels:
        raise InvalidInputError("save_spectrograms needs at least one (title, audio) panel.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = [log_spectrogram(wav) for _, wav in panels]
    top = max(float(s.max()) for s in specs)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    for ax, (title, wav), spec in zip(axes[0], panels, specs):
        extent = (0.0, wav.shape[-1] / sample_rate, 0.0, sample_rate / 2)
        ax.imshow(
            spec.numpy(), origin="lower", aspect="auto", extent=extent, cmap="magma",
            vmin=top - DYNAMIC_RANGE_DB, vmax=top,
        )  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("s")
    axes[0][0].set_ylabel("Hz")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path
