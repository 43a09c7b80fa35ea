"""The ``text`` condition: words to speak, as character/phoneme ids of the text front end."""

from __future__ import annotations

from typing import Any

from tokgen.conditions.base import (
    ArgumentContext,
    ConditionSpec,
    ConditionType,
    Kind,
    Positions,
    RowContext,
    Special,
)
from tokgen.errors import InvalidInputError


class TextCondition(ConditionType):
    name = "text"
    help = "the words to speak"
    marker = Special.MARK_TEXT

    def from_argument(self, spec: ConditionSpec, value: Any, ctx: ArgumentContext) -> list[int]:
        return ctx.frontend.encode(value)

    def present(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> bool:
        if not isinstance(value, str):
            return False
        try:
            ctx.frontend.encode(value)
        except InvalidInputError:
            return False
        return True

    def from_row(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> list[int] | None:
        return ctx.frontend.encode(value) if self.present(spec, value, ctx) else None

    def lay_out(self, spec: ConditionSpec, value: list[int], out: Positions) -> None:
        for token in value:
            out.add(Kind.TEXT, int(token))

    def spoken_characters(self, value: list[int]) -> int:
        return len(value)
