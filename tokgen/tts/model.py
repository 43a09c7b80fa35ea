"""The duration TTS network: phones with given durations -> the codec's continuous latent.

What two CPU cores cannot learn is not asked of it: *when* each phone sounds comes from flite's
duration model (:mod:`tokgen.text.phones`), *how* the frames become a waveform from the codec's
vocoder (WORLD). The network only maps a phone sequence, already timed, to per-frame vocoder
parameters in a voice given by a prompt (FastSpeech's regime with external durations)::

    phones [B, P] --embed, conv blocks--> [B, W, P] --repeat by durations--> [B, W, F]
        + position in the phone, the phone's length, the voice vector
        --dilated conv blocks--> normalized latent [B, D, F]

The voice vector is the per-channel mean and standard deviation of the prompt's normalized
latent ``[2D]``: a prompt of any length, no speaker table, so unseen voices work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from tokgen.codecs.latent_scale import LatentScale
from tokgen.errors import ConfigError
from tokgen.layers import ConvBlock
from tokgen.text.phones import PAD_ID, PHONES

ACOUSTICS = ("network", "flite")


@dataclass
class DurationTTSConfig:
    """Sizes of the network and what it models; saved in the checkpoint."""

    codec: str = "tokgen-codec-16k"
    latent_dim: int = 49  # the codec's latent channels D
    frame_rate: float = 50.0
    vocab: int = len(PHONES) + 1  # PAD_ID (0) pads
    width: int = 256
    phone_layers: int = 3
    frame_layers: int = 6
    kernel: int = 5
    dropout: float = 0.1
    max_duration: float = 30.0  # seconds: the longest speech (and voice prompt) generate() takes
    postfilter: float = 1.0  # mel-cepstral postfilter: envelope coefficients 2.. times this
    voice_durations: bool = False  # a head rescaling flite's phone durations to the voice's
    # where generate() takes the vocoder parameters from: "network" (this network's output) or
    # "flite" (flite's own rendering, analysed by the codec and moved to the prompt's voice)
    acoustics: str = "network"

    def __post_init__(self) -> None:
        if self.width < 8 or self.kernel % 2 == 0 or self.latent_dim < 1 or self.postfilter <= 0:
            raise ConfigError(
                f"duration TTS needs width >= 8, an odd kernel, latent_dim >= 1 and postfilter > 0; "
                f"got {self.width}, {self.kernel}, {self.latent_dim}, {self.postfilter}."
            )
        if self.acoustics not in ACOUSTICS:
            raise ConfigError(f"acoustics is one of {ACOUSTICS}, got {self.acoustics!r}.")


class DurationTTSNet(LatentScale):
    """Timed phones + a voice vector -> the normalized latent; stores the latent statistics."""

    def __init__(self, config: DurationTTSConfig) -> None:
        super().__init__()
        self.config = config
        w, d = config.width, config.latent_dim
        self.embed = nn.Embedding(config.vocab, w, padding_idx=PAD_ID)
        self.phone_blocks = nn.ModuleList(
            ConvBlock(w, config.kernel, 1, config.dropout) for _ in range(config.phone_layers)
        )
        self.frame_in = nn.Linear(3, w)  # position in the phone, 1 - that, log length
        self.voice_in = nn.Linear(2 * d, w)
        self.frame_blocks = nn.ModuleList(
            ConvBlock(w, config.kernel, 2 ** (i % 3), config.dropout)
            for i in range(config.frame_layers)
        )
        self.norm_out = nn.LayerNorm(w)
        self.out = nn.Linear(w, d)
        if config.voice_durations:
            self.duration_voice = nn.Linear(2 * d, w)
            self.duration_block = ConvBlock(w, config.kernel, 1, config.dropout)
            self.duration_out = nn.Linear(w, 1)
        self.register_latent_statistics(d)

    def voice(self, latent: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Voice vectors ``[B, 2D]`` of prompts' latents ``[B, D, F]`` over the frames
        ``mask [B, F]`` marks (default: all)."""
        x = self.normalize(latent)
        if mask is None:
            mask = torch.ones(x.shape[0], x.shape[-1], dtype=torch.bool, device=x.device)
        m = mask[:, None].to(x.dtype)
        count = m.sum(-1).clamp(min=1)
        mean = (x * m).sum(-1) / count
        std = (((x - mean[..., None]) ** 2 * m).sum(-1) / count).sqrt()
        return torch.cat([mean, std], dim=-1)

    def phone_states(self, phones: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``phones [B, P]`` (0 pads) -> their states ``[B, W, P]`` and mask ``[B, 1, P]``."""
        phone_mask = (phones != PAD_ID)[:, None].to(self.out.weight.dtype)  # [B, 1, P]
        h = self.embed(phones).transpose(1, 2) * phone_mask  # [B, W, P]
        for block in self.phone_blocks:
            h = block(h, phone_mask)
        return h, phone_mask

    def duration_scale(self, phones: torch.Tensor, voice: torch.Tensor) -> torch.Tensor:
        """ln of how much longer than flite's each phone lasts in the voice ``[B, P]`` (0
        without the head, and at pads)."""
        return self._duration_scale(*self.phone_states(phones), voice)

    def _duration_scale(
        self, h: torch.Tensor, phone_mask: torch.Tensor, voice: torch.Tensor
    ) -> torch.Tensor:
        if not self.config.voice_durations:
            return torch.zeros(phone_mask[:, 0].shape, device=h.device)
        h = self.duration_block(h + self.duration_voice(voice)[..., None], phone_mask)
        return self.duration_out(h.transpose(1, 2))[..., 0] * phone_mask[:, 0]

    def forward(
        self,
        phones: torch.Tensor,
        durations: torch.Tensor,
        voice: torch.Tensor,
        frames: int,
        with_duration_scale: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``phones``/``durations`` ``[B, P]`` (0 pads), ``voice [B, 2D]`` -> normalized
        latent ``[B, D, frames]`` (zero past each item's total duration); with
        ``with_duration_scale`` also :meth:`duration_scale` ``[B, P]`` (one pass, as
        training needs under data parallelism)."""
        h, phone_mask = self.phone_states(phones)
        index, position, length = expand(durations, frames)  # [B, F] each
        frame_mask = (index >= 0)[:, None].to(h.dtype)  # [B, 1, F]
        gathered = torch.gather(h, 2, index.clamp(min=0)[:, None].expand(-1, h.shape[1], -1))
        extra = torch.stack([position, 1 - position, torch.log1p(length)], dim=-1)
        x = gathered + self.frame_in(extra).transpose(1, 2) + self.voice_in(voice)[..., None]
        x = x * frame_mask
        for block in self.frame_blocks:
            x = block(x, frame_mask)
        y = self.out(self.norm_out(x.transpose(1, 2))).transpose(1, 2)  # [B, D, F]
        y = y * frame_mask
        if with_duration_scale:
            return y, self._duration_scale(h, phone_mask, voice)
        return y


def expand(durations: torch.Tensor, frames: int) -> tuple[torch.Tensor, ...]:
    """Durations ``[B, P]`` -> per frame ``[B, frames]``: the phone index (-1 past the end),
    the position in the phone in [0, 1), and the phone's length in frames."""
    ends = durations.cumsum(-1)  # [B, P]
    t = torch.arange(frames, device=durations.device)[None].expand(len(durations), -1)
    index = torch.searchsorted(ends, t.contiguous(), right=True)  # [B, F]
    past = index >= durations.shape[1]
    index = index.clamp(max=durations.shape[1] - 1)
    length = torch.gather(durations, 1, index).float()
    start = torch.gather(ends, 1, index) - length
    position = ((t - start) / length.clamp(min=1)).float()
    return index.masked_fill(past, -1), position.masked_fill(past, 0), length.masked_fill(past, 0)


def with_duration_head(net: DurationTTSNet) -> DurationTTSNet:
    """``net`` with a fresh voice duration head (the rest of its weights kept)."""
    if net.config.voice_durations:
        return net
    grown = DurationTTSNet(replace(net.config, voice_durations=True))
    missing, unexpected = grown.load_state_dict(net.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("duration_") for k in missing), missing
    return grown
