"""``TextureContinuation``: a prompt -> the audio that follows, re-ordered from the prompt's
own frames (:mod:`tokgen.continuation.texture`). Same ``generate("continuation", audio=...)``
and output as the LM.

A checkpoint is a folder with ``config.json`` (``kind`` = :data:`KIND`, the
:class:`TextureConfig`) and an empty ``model.safetensors``: nothing in it is learned.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import torch
from tqdm.auto import tqdm

from tokgen.checks import number
from tokgen.continuation.texture import TextureConfig, TextureNet
from tokgen.errors import InvalidInputError
from tokgen.lm.sampling import generators_for
from tokgen.net_model import NetCheckpoint, NetModel
from tokgen.pipeline import (
    GenerationOutput,
    ModelInfo,
    _batch_size,
    _pick,
    audio_argument,
    refuse_sampling,
)
from tokgen.tasks import DEFAULT_DURATION, TaskSpec, builtin_task

KIND = "tokgen-texture-continuation"


class TextureContinuation(NetModel):
    """A loaded texture continuation: ``generate("continuation", audio=prompt, duration=s)``."""

    TASK, DOES = "continuation", "continues audio"

    @classmethod
    def spec(cls) -> TaskSpec:
        """The built-in task without its optional caption (the prompt alone decides), the
        whole prompt read (up to ``max_duration``)."""
        spec = builtin_task(cls.TASK)
        audio = [replace(c, seconds=None) for c in spec.conditions if c.name == "audio"]
        return replace(spec, conditions=tuple(audio))

    @torch.inference_mode()
    def generate(
        self,
        task: str,
        text: Any = None,
        *,
        audio: Any = None,
        sample_rate: int | None = None,
        duration: float | list[float] | None = None,
        seed: int | list[int] | None = None,
        progress: bool = False,
        **sampling: Any,
    ) -> GenerationOutput:
        """``duration`` seconds (default 4; one per item or shared) of what follows ``audio``
        (a path, ``(tensor, rate)`` or a tensor with ``sample_rate``; or a list), made of the
        prompt's own 20 ms frames in a new order: the sound goes on, no new material appears.
        ``seed`` picks the jumps (item ``i`` gets ``seed + i``); the LM's sampling options
        and a caption (``text``) are refused. ``codes`` are the output in the codec's tokens,
        computed when first read."""
        self.task(task)
        refuse_sampling(self.name, "it takes audio, duration and seed", **sampling)
        if text is not None:
            raise InvalidInputError(
                f"{self.name} continues the prompt's own sound and takes no caption (text=); "
                "tokgen-small takes one."
            )
        if audio is None:
            raise InvalidInputError("task 'continuation' needs audio= (the clip to continue).")
        batch = _batch_size({"audio": audio, "duration": duration})
        generators = generators_for(seed, batch)
        limit = self.config.max_duration
        seconds = [number("duration", DEFAULT_DURATION if _pick(duration, i) is None
                          else _pick(duration, i), low=0.02, high=limit) for i in range(batch)]  # fmt: skip
        prompts = [
            audio_argument("audio", _pick(audio, i), sample_rate, self.codec, limit).samples[0, 0]
            for i in range(batch)
        ]  # [T_i] each
        hop = self.config.hop_length
        frames = [round(s * self.sample_rate / hop) for s in seconds]
        out = torch.zeros(batch, 1, max(frames) * hop)
        for i in tqdm(range(batch), desc="continue", unit="item", disable=not progress):
            out[i, 0, : frames[i] * hop] = self.net(prompts[i], frames[i], generators[i])
        return self.output(out, [f * hop for f in frames])


CHECKPOINT = NetCheckpoint(KIND, TextureConfig, TextureNet, "texture continuation")
save_texture = CHECKPOINT.save


def load_model(path: str | os.PathLike, name: str) -> TextureContinuation:
    """The texture continuation in folder ``path`` with its codec (for ``codes``)."""
    from tokgen.codecs import load_codec

    net = CHECKPOINT.load_net(path)
    return TextureContinuation(net, load_codec(net.config.codec), name)


def model_info(path: str | os.PathLike) -> ModelInfo:
    """What the checkpoint in ``path`` does, from its config alone."""
    config = CHECKPOINT.config(path)
    return ModelInfo({"continuation": TextureContinuation.spec()}, config.max_duration,
                     options=("duration", "seed"))  # fmt: skip
