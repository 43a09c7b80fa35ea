"""The ``embedding`` condition: a caption or query, as one sentence-embedding position."""

from __future__ import annotations

from typing import Any

import torch

from tokgen.conditions.base import (
    ArgumentContext,
    ConditionSpec,
    ConditionType,
    Positions,
    RowContext,
    Special,
)
from tokgen.errors import ConfigError, InvalidInputError

MAX_CAPTION_CHARS = 1000


def check_caption(name: str, value: Any) -> str:
    """``value`` if it is a usable caption (a non-empty string the encoder reads whole),
    else an :class:`InvalidInputError` naming ``name``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty caption string, got {value!r}.")
    if len(value) > MAX_CAPTION_CHARS:
        raise InvalidInputError(
            f"{name} is {len(value)} characters long; at most {MAX_CAPTION_CHARS} "
            "are read (the caption encoder sees about 256 tokens): shorten it."
        )
    return value


def text_strings(value: Any) -> list[str]:
    """A text field's candidate strings (a caption list or one string)."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


class EmbeddingCondition(ConditionType):
    name = "embedding"
    help = "a description or query"
    marker = Special.MARK_EMBEDDING

    def from_argument(self, spec: ConditionSpec, value: Any, ctx: ArgumentContext) -> torch.Tensor:
        return ctx.embed(check_caption(spec.name, value))

    def present(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> bool:
        return bool(text_strings(value))

    def from_row(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> torch.Tensor | None:
        options = text_strings(value)
        if ctx.embed is None or ctx.rng is None:
            raise ConfigError(f"condition {spec.name!r} embeds text: draw with an embed and rng.")
        return ctx.embed(ctx.rng.choice(options)) if options else None

    def lay_out(self, spec: ConditionSpec, value: Any, out: Positions) -> None:
        vector = torch.as_tensor(value, dtype=torch.float32)
        if vector.shape != (out.fmt.embedding_dim,):
            raise InvalidInputError(
                f"condition {spec.name!r} must be a [{out.fmt.embedding_dim}] embedding, "
                f"got {tuple(vector.shape)}."
            )
        out.add_embedding(vector)

    def strings(self, spec: ConditionSpec, value: Any) -> list[str]:
        return text_strings(value)
