"""Small network layers the fitted-on-CPU models share (the duration TTS, the separator)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


class ConvBlock(nn.Module):
    """Residual block: LayerNorm over channels, dilated conv, GELU, dropout, masked."""

    def __init__(self, width: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, kernel, padding=dilation * (kernel // 2),
                              dilation=dilation)  # fmt: skip
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x [B, W, T]``, ``mask [B, 1, T]`` -> ``[B, W, T]`` (zero where masked)."""
        h = self.norm(x.transpose(1, 2)).transpose(1, 2) * mask
        return (x + self.dropout(functional.gelu(self.conv(h)))) * mask
