"""Texture continuation: the audio that follows a prompt, re-ordered from the prompt's own
20 ms frames along a similarity graph (the sound-texture and "infinite jukebox" technique;
Perraudin et al. 2018 use the same graph to inpaint long gaps).

Nothing is trained or generated from scratch: every output frame is a frame of the prompt.
Each frame is described by its log-mel spectrum and its predecessor's; the continuation
starts where the frame after one of the prompt's frames most like the prompt's last one
would start, plays the prompt forward from there, and at random moments (and at the
prompt's end) jumps to just after one of the frames most like the current one, at least
``min_jump_frames`` away, crossfading at each jump. The seed picks the jumps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio
from torch import nn

from tokgen.errors import ConfigError


@dataclass
class TextureConfig:
    """The frame grid, the similarity features and how often and where it jumps."""

    codec: str = "tokgen-codec-16k"  # the tokens of GenerationOutput.codes
    sample_rate: int = 16_000
    hop_length: int = 320  # 20 ms frames
    n_fft: int = 1024
    n_mels: int = 40
    jump_probability: float = 0.04  # per frame: runs of 0.5 s on average
    min_jump_frames: int = 10  # a jump lands at least 0.2 s from where it leaves
    candidates: int = 5  # it lands after one of the frames most like the current one
    fade: int = 160  # samples of raised-cosine crossfade at each jump (10 ms)
    max_duration: float = 60.0  # seconds, of the prompt and of the continuation

    def __post_init__(self) -> None:
        if not 0.0 <= self.jump_probability <= 1.0:
            raise ConfigError(f"jump_probability is in [0, 1], got {self.jump_probability}.")
        if self.min_jump_frames < 1 or self.candidates < 1 or self.n_mels < 1:
            raise ConfigError(
                "min_jump_frames, candidates and n_mels must be at least 1, got "
                f"{self.min_jump_frames}, {self.candidates}, {self.n_mels}."
            )
        if not 0 <= self.fade <= self.hop_length or self.n_fft < self.hop_length:
            raise ConfigError(
                f"fade must be within 0..hop_length ({self.hop_length}) and n_fft >= "
                f"hop_length; got fade {self.fade}, n_fft {self.n_fft}."
            )


class TextureNet(nn.Module):
    """:meth:`forward` continues a prompt ``[T]``; no weights (its buffers are computed)."""

    def __init__(self, config: TextureConfig) -> None:
        super().__init__()
        self.config = config
        fbanks = torchaudio.functional.melscale_fbanks(
            config.n_fft // 2 + 1, 0.0, config.sample_rate / 2, config.n_mels, config.sample_rate
        )  # [S, M]
        self.register_buffer("fbanks", fbanks, persistent=False)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        fade = torch.sin(torch.linspace(0, torch.pi / 2, config.fade)) ** 2
        self.register_buffer("fade_in", fade, persistent=False)  # [fade]

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """``[T]`` -> ``[N, 2M]``: each whole frame's log-mel spectrum beside its predecessor's."""
        frames = wav.shape[-1] // self.config.hop_length
        spec = torch.stft(wav.float(), self.config.n_fft, self.config.hop_length,
                          window=self.window, return_complex=True)  # fmt: skip
        mel = (spec.abs()[:, :frames] ** 2).T @ self.fbanks  # [N, M]
        log_mel = (mel + 1e-5).log()
        return torch.cat([log_mel, torch.roll(log_mel, 1, 0)], dim=1)

    def plan(self, features: torch.Tensor, frames: int, generator: torch.Generator) -> list[int]:
        """The prompt frame ``[frames]`` each output frame copies, for features ``[N, 2M]``."""
        n = features.shape[0]
        distance = torch.cdist(features, features)  # [N, N]
        index = torch.arange(n)
        distance[(index[:, None] - index[None]).abs() < self.config.min_jump_frames] = torch.inf
        distance[:, n - 1 :] = torch.inf  # a landing frame needs a frame after it

        def jump(frame: int) -> int:
            """The frame after one of those most like ``frame`` (any frame if none is)."""
            k = min(self.config.candidates, n)
            nearest = distance[frame].topk(k, largest=False)
            allowed = nearest.indices[torch.isfinite(nearest.values)]
            if len(allowed) == 0:
                return int(torch.randint(0, n, (1,), generator=generator))
            return int(allowed[torch.randint(0, len(allowed), (1,), generator=generator)]) + 1

        order, current = [], jump(n - 1)
        while len(order) < frames:
            order.append(current)
            current += 1
            leap = torch.rand((), generator=generator) < self.config.jump_probability
            if current >= n or leap:
                current = jump(current - 1)
        return order

    def render(self, wav: torch.Tensor, order: list[int]) -> torch.Tensor:
        """The prompt ``[T]``'s frames in ``order`` as audio ``[len(order) * hop]``: each run of
        consecutive frames copied whole, runs crossfaded over ``fade`` samples."""
        hop, fade = self.config.hop_length, self.config.fade
        padded = torch.nn.functional.pad(wav.float(), (0, hop + fade))  # a run may read past T
        out = torch.zeros(len(order) * hop + fade)
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and order[end] == order[end - 1] + 1:
                end += 1
            first = order[start] * hop
            piece = padded[first : first + (end - start) * hop + fade].clone()
            if fade:
                if start > 0:
                    piece[:fade] *= self.fade_in
                piece[-fade:] *= self.fade_in.flip(0)
            out[start * hop : start * hop + piece.shape[0]] += piece
            start = end
        return out[: len(order) * hop]

    def forward(self, wav: torch.Tensor, frames: int, generator: torch.Generator) -> torch.Tensor:
        """``frames`` frames of continuation ``[frames * hop]`` of the prompt ``[T]``, its
        jumps drawn from ``generator``."""
        return self.render(wav, self.plan(self.features(wav), frames, generator))
