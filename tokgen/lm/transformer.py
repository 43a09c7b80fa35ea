"""A pre-norm transformer on scaled-dot-product attention, with a KV cache for decoding."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional


@dataclass
class KVCache:
    """Keys and values of every layer for the positions seen so far, in preallocated buffers.

    ``keys[i]``/``values[i]`` are ``[B, H, capacity, D_head]`` and ``padding`` is
    ``[B, capacity]`` (True at padding keys, never attended to); the first ``length``
    positions are filled. New positions are written in place, so a decoding step copies
    nothing that grows with the sequence; past ``capacity`` the buffers double.
    """

    capacity: int = 256  # positions to allocate up front (prefix + frames to generate)
    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)
    padding: torch.Tensor | None = None
    length: int = 0

    def _room(self, buffer: torch.Tensor, needed: int) -> torch.Tensor:
        """``buffer`` (positions on dim 2 or 1) with room for ``needed`` positions."""
        dim = 2 if buffer.ndim == 4 else 1
        if buffer.shape[dim] >= needed:
            return buffer
        shape = list(buffer.shape)
        shape[dim] = max(needed, 2 * buffer.shape[dim]) - buffer.shape[dim]
        fill = torch.ones if buffer.dtype == torch.bool else torch.zeros
        return torch.cat([buffer, fill(shape, dtype=buffer.dtype, device=buffer.device)], dim)

    def write_padding(self, padding: torch.Tensor) -> torch.Tensor:
        """Store ``padding [B, T]`` after the cached positions; all key padding ``[B, S]``."""
        b, t = padding.shape
        if self.padding is None:
            self.padding = torch.ones(
                b, max(self.capacity, t), dtype=torch.bool, device=padding.device
            )
        self.padding = self._room(self.padding, self.length + t)
        self.padding[:, self.length : self.length + t] = padding
        return self.padding[:, : self.length + t]

    def write(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store layer ``layer``'s new ``k, v [B, H, T, Dh]``; all its keys and values."""
        t = k.shape[2]
        if layer == len(self.keys):
            shape = (*k.shape[:2], max(self.capacity, self.length + t), k.shape[3])
            self.keys.append(k.new_zeros(shape))
            self.values.append(v.new_zeros(shape))
        self.keys[layer] = self._room(self.keys[layer], self.length + t)
        self.values[layer] = self._room(self.values[layer], self.length + t)
        end = self.length + t
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


class Attention(nn.Module):
    """Multi-head self-attention (SDPA). No dropout on the attention weights: on a CPU it
    forces SDPA's slow path (3x the time of a masked attention without it); the blocks
    drop out their residual branches instead."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, D]
        mask: torch.Tensor,  # [B, 1, T, S] True where a query may attend to a key
        cache: KVCache | None,
        layer: int,
    ) -> torch.Tensor:
        q, k, v = rearrange(
            self.qkv(x), "b t (three h d) -> three b h t d", three=3, h=self.n_heads
        )
        if cache is not None:
            k, v = cache.write(layer, k, v)  # [B, H, S, Dh]: cached positions + these
        y = functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(rearrange(y, "b h t d -> b t (h d)"))


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, ff_mult * d_model),
            nn.GELU(),
            nn.Linear(ff_mult * d_model, d_model),
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, cache: KVCache | None, layer: int
    ) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), mask, cache, layer))
        return x + self.drop(self.ff(self.norm2(x)))


class Transformer(nn.Module):
    """``[B, T, D] -> [B, T, D]``; causal or bidirectional, with padding masked out."""

    def __init__(
        self, d_model: int, n_heads: int, n_layers: int, ff_mult: int, dropout: float, causal: bool
    ) -> None:
        super().__init__()
        self.causal = causal
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, ff_mult, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, D]
        padding: torch.Tensor,  # [B, T] True at padding positions
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Run the new positions ``x``; with ``cache`` they follow the cached ones."""
        past = 0 if cache is None else cache.length
        keys_padding = padding if cache is None else cache.write_padding(padding)  # [B, S]
        mask = _attention_mask(padding, keys_padding, past, self.causal)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, cache, i)
        if cache is not None:
            cache.length += x.shape[1]
        return self.norm(x)


def _attention_mask(
    query_padding: torch.Tensor, key_padding: torch.Tensor, past: int, causal: bool
) -> torch.Tensor:
    """``[B, 1, T, S]`` True where query t may attend key s.

    A padding query attends to itself only, so no row is fully masked (SDPA would give
    NaN); its output is never used.
    """
    t, s = query_padding.shape[1], key_padding.shape[1]
    mask = ~key_padding[:, None, None, :]  # [B, 1, 1, S]
    if causal:
        query_at = torch.arange(t, device=key_padding.device)[:, None] + past
        mask = mask & (torch.arange(s, device=key_padding.device)[None, :] <= query_at)
    self_key = torch.zeros(t, s, dtype=torch.bool, device=key_padding.device)
    self_key[torch.arange(t), torch.arange(t) + past] = True
    return mask | (query_padding[:, None, :, None] & self_key)
