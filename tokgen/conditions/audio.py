"""The ``audio`` condition: a clip (a voice prompt, a mixture, a start) as codec frames."""

from __future__ import annotations

from typing import Any

import torch

from tokgen.conditions.base import (
    ArgumentContext,
    ConditionSpec,
    ConditionType,
    Kind,
    Positions,
    RowContext,
    Special,
)
from tokgen.errors import ConfigError, InvalidInputError

MIN_FRAMES = 4  # shorter tokenized clips are not trained on


class AudioCondition(ConditionType):
    name = "audio"
    help = "a path, a (tensor, sample_rate) tuple, or a tensor with sample_rate="
    cli_help = "an audio file (wav, flac, ogg...)"
    marker = Special.MARK_AUDIO

    def from_argument(self, spec: ConditionSpec, value: Any, ctx: ArgumentContext) -> torch.Tensor:
        codes = ctx.encode_audio(spec, value)  # [K, F]
        wanted = round(spec.seconds * ctx.frame_rate) if spec.seconds else None
        if spec.window == "head" and wanted:  # the prompt's end is what continues
            return codes[:, -wanted:]
        if spec.window == "random" and wanted:
            return codes[:, :wanted]
        return codes

    def present(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> bool:
        return ctx.frames(value) >= MIN_FRAMES

    def from_row(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> torch.Tensor | None:
        """The tokenized clip at ``value`` cut to the spec's window: ``head`` is the first
        ``seconds`` (at most half), ``all`` follows the target's crop unless the clip comes
        from another row (``same``), otherwise a random ``seconds``-long window."""
        codes = ctx.codes(value)
        if codes is None:
            return None
        if ctx.rng is None:
            raise ConfigError(f"condition {spec.name!r} crops at random: draw with an rng.")
        wanted = round(spec.seconds * ctx.frame_rate) if spec.seconds else codes.shape[1]
        if spec.window == "head":
            return codes[:, : max(1, min(wanted, codes.shape[1] // 2))]
        if spec.window == "all" and spec.same is None:
            return codes[:, ctx.offset : ctx.offset + ctx.span]  # aligned with the target
        length = min(wanted, codes.shape[1])
        start = ctx.rng.randrange(codes.shape[1] - length + 1)
        return codes[:, start : start + length]

    def lay_out(self, spec: ConditionSpec, value: Any, out: Positions) -> None:
        for frame in check_codes(value, out.fmt.num_codebooks, spec.name).T:
            out.add(Kind.AUDIO, frame=frame)

    def is_aligned(self, spec: ConditionSpec) -> bool:
        return spec.window == "all"

    def aligned_frames(self, spec: ConditionSpec, value: torch.Tensor) -> int | None:
        return int(value.shape[1]) if self.is_aligned(spec) else None


def check_codes(value: Any, num_codebooks: int, name: str) -> torch.Tensor:
    """``value`` as ``[num_codebooks, F]`` long codes (extra codebooks dropped), or an error."""
    codes = torch.as_tensor(value)
    if codes.dim() != 2 or codes.shape[0] < num_codebooks or codes.dtype.is_floating_point:
        raise InvalidInputError(
            f"{name} must be integer codes [K>={num_codebooks}, F], got "
            f"{tuple(codes.shape)} {codes.dtype}."
        )
    if codes.shape[1] == 0:
        raise InvalidInputError(f"{name} has no frames.")
    return codes[:num_codebooks].long()
