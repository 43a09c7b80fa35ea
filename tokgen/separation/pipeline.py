"""``MaskSeparator``: a text query + a mixture -> the queried source, by a predicted mask on
the mixture's STFT. Same ``generate("lass", text, audio=...)`` and output as the LM.

A checkpoint is a folder with ``config.json`` (``kind`` = :data:`KIND`, the network's
:class:`MaskNetConfig`) and ``model.safetensors``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from tqdm.auto import tqdm

from tokgen.errors import InvalidInputError
from tokgen.net_model import NetCheckpoint, NetModel
from tokgen.pipeline import (
    GenerationOutput,
    ModelInfo,
    _batch_size,
    _pick,
    audio_argument,
    refuse_sampling,
)
from tokgen.separation.model import MaskNet, MaskNetConfig

KIND = "tokgen-mask-separator"


class MaskSeparator(NetModel):
    """A loaded mask separator: ``generate("lass", query, audio=mixture)``."""

    TASK, DOES = "lass", "separates"

    @torch.inference_mode()
    def generate(
        self,
        task: str,
        text: str | list[str] | None = None,
        *,
        audio: Any = None,
        sample_rate: int | None = None,
        seed: int | list[int] | None = None,
        duration: float | None = None,
        progress: bool = False,
        **sampling: Any,
    ) -> GenerationOutput:
        """Keep of ``audio`` (the mixture: a path, ``(tensor, rate)`` or a tensor with
        ``sample_rate``; or a list) what ``text`` (the query, e.g. "speech" or "a
        glockenspiel melody") describes. The output has the mixture's length and is
        deterministic: ``seed`` is accepted for the common API and changes nothing; sampling
        options are refused. ``codes`` are the output in the codec's tokens, computed when first
        read (a codec analysis: most of the time of a call that reads them)."""
        from tokgen.text.captions import caption_encoder

        self.task(task)
        refuse_sampling(self.name, "it takes text, audio and sample_rate", **sampling)
        if duration is not None:
            raise InvalidInputError(f"{self.name}: the mixture sets the length; no duration=.")
        if text is None or audio is None:
            raise InvalidInputError(
                "task 'lass' needs text= (the source to keep) and audio= (the mixture)."
            )
        batch = _batch_size({"text": text, "audio": audio})
        queries = [_pick(text, i) for i in range(batch)]
        embeddings = caption_encoder().encode(queries)  # [B, Q]
        clips = [
            audio_argument("audio", _pick(audio, i), sample_rate, self.codec,
                           self.config.max_duration).samples[0, 0]
            for i in range(batch)
        ]  # fmt: skip
        lengths = [clip.shape[-1] for clip in clips]
        out = torch.zeros(batch, 1, max(lengths))
        for i in tqdm(range(batch), desc="separate", unit="item", disable=not progress):
            out[i, 0, : lengths[i]] = self.net(clips[i][None], embeddings[i : i + 1])[0]  # [T]
        return self.output(out, lengths)


CHECKPOINT = NetCheckpoint(KIND, MaskNetConfig, MaskNet, "mask separator")
save_separator = CHECKPOINT.save
load_separator_net = CHECKPOINT.load_net


def load_model(path: str | os.PathLike, name: str) -> MaskSeparator:
    """The separator in folder ``path`` with its codec."""
    from tokgen.codecs import load_codec

    net = load_separator_net(path)
    return MaskSeparator(net, load_codec(net.config.codec), name)


def model_info(path: str | os.PathLike) -> ModelInfo:
    """What the checkpoint in ``path`` does, from its config alone."""
    config = CHECKPOINT.config(path)
    return ModelInfo({"lass": MaskSeparator.spec()}, config.max_duration, options=())
