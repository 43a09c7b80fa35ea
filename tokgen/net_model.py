"""One-network, one-task models (the duration TTS, the mask separator, the texture
continuation): how they are stored and what they share around ``generate()``.

A checkpoint is a folder with ``config.json`` (``kind`` plus the network's config
dataclass) and ``model.safetensors`` (fp16). :class:`NetCheckpoint` writes and reads one;
:class:`NetModel` is the loaded model's common part (its network, codec and one task).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tokgen import hub
from tokgen.codecs import Codec
from tokgen.errors import ConfigError, InvalidInputError
from tokgen.pipeline import GenerationOutput
from tokgen.tasks import TaskSpec, builtin_task


@dataclass(frozen=True)
class NetCheckpoint:
    """The storage of one model kind: ``kind`` in config.json, the network's ``config_class``
    and ``net_class`` (built from that config); ``what`` names it in errors."""

    kind: str
    config_class: type
    net_class: type
    what: str

    def save(self, net: nn.Module, path: str | os.PathLike) -> Path:
        """Export ``net`` (fp16 weights) as a loadable folder."""
        config = {"kind": self.kind, **asdict(net.config)}
        return hub.save_checkpoint(path, config, net.state_dict(), dtype=torch.float16)

    def config(self, path: str | os.PathLike, raw: dict[str, Any] | None = None) -> Any:
        """The network config of the checkpoint in ``path`` (read without its weights)."""
        raw = dict(hub.read_config(path) if raw is None else raw)
        if raw.pop("kind", None) != self.kind:
            raise ConfigError(f"{path} is not a {self.what} checkpoint (kind {self.kind!r}).")
        return hub.config_from_dict(self.config_class, raw, source=str(path))

    def load_net(self, path: str | os.PathLike) -> nn.Module:
        """The network of the checkpoint folder ``path``."""
        raw, state = hub.load_checkpoint(path)
        net = self.net_class(self.config(path, raw))
        net.load_state_dict(state)
        return net


class NetModel:
    """A loaded network with its codec doing one task, :attr:`TASK`; a subclass adds
    ``generate`` (and may adjust the task's conditions in :meth:`spec`). :attr:`DOES` says
    what it does in the error for another task. A network whose config names a
    ``sample_rate`` (it reads audio samples) needs a mono codec at that rate."""

    TASK: str
    DOES: str

    def __init__(self, net: nn.Module, codec: Codec, name: str) -> None:
        rate = getattr(net.config, "sample_rate", None)  # a network on audio samples
        if rate is not None and (codec.sample_rate != rate or codec.channels != 1):
            raise ConfigError(
                f"{name}: the {self.TASK} model works on mono {rate} Hz audio; codec "
                f"{net.config.codec!r} is {codec.channels}-channel {codec.sample_rate} Hz."
            )
        self.net = net.eval()
        self.codec = codec
        self.name = name

    @property
    def config(self) -> Any:
        return self.net.config

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def tasks(self) -> list[str]:
        return [self.TASK]

    def task(self, name: str) -> TaskSpec:
        if name != self.TASK:
            raise InvalidInputError(
                f"{self.name} only {self.DOES} (task {self.TASK!r}), not {name!r}; "
                "tokgen-small does every built-in task."
            )
        return self.spec()

    @classmethod
    def spec(cls) -> TaskSpec:
        """The task as this model takes it (default: the built-in one)."""
        return builtin_task(cls.TASK)

    def output(self, audio: torch.Tensor, lengths: list[int]) -> GenerationOutput:
        """``audio [B, 1, T]`` (zero past each item's ``lengths``) as a
        :class:`GenerationOutput` whose ``codes`` are the codec's analysis of it, run when
        first read (most of the time of a call that reads them)."""
        kept = audio.clone()  # the codes stay those of this output if a caller edits its audio
        return GenerationOutput(
            audio, self.sample_rate, lambda: self._codes(kept, lengths), lengths
        )

    @torch.inference_mode()
    def _codes(self, audio: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """``audio [B, 1, T]`` in the codec's tokens ``[B, K, F]`` (-1 past each item's frames)."""
        hop = self.codec.hop_length
        codes = torch.full((len(lengths), self.codec.num_codebooks, -(-max(lengths) // hop)), -1)
        for i, length in enumerate(lengths):
            item = self.codec.encode(audio[i : i + 1, :, :length], self.sample_rate)[0]  # [K, F]
            codes[i, :, : item.shape[-1]] = item
        return codes
