"""Condition types: one class per type (``text``, ``embedding``, ``audio``), in a registry.

A new type is one module with a :class:`ConditionType` subclass plus one
:func:`register_condition_type` call; task specs name types by ``name``.
"""

from __future__ import annotations

from tokgen.conditions.audio import AudioCondition, check_codes
from tokgen.conditions.base import (
    ArgumentContext,
    ConditionSpec,
    ConditionType,
    Kind,
    Positions,
    RowContext,
    SequenceFormat,
    Special,
    Window,
)
from tokgen.conditions.embedding import EmbeddingCondition
from tokgen.conditions.text import TextCondition
from tokgen.errors import ConfigError

CONDITION_TYPES: dict[str, ConditionType] = {}


def register_condition_type(ctype: ConditionType) -> ConditionType:
    """Make ``ctype`` usable as a task condition's ``type``; its marker must be free."""
    builtin = {int(Special.MARK_TEXT), int(Special.MARK_EMBEDDING), int(Special.MARK_AUDIO)}
    if ctype.slot is None and ctype.marker not in builtin:
        raise ConfigError(
            f"condition type {ctype.name!r} needs a marker: set its class attribute `slot` "
            "(0, 1, ...: a reserved marker id after the task ids)."
        )
    taken = {
        (t.marker if t.slot is None else ("slot", t.slot)): n
        for n, t in CONDITION_TYPES.items()
        if n != ctype.name
    }
    key = ctype.marker if ctype.slot is None else ("slot", ctype.slot)
    if key in taken:
        raise ConfigError(
            f"condition type {ctype.name!r} wants the marker of {taken[key]!r}; pick a free slot."
        )
    CONDITION_TYPES[ctype.name] = ctype
    return ctype


def condition_type(name: str) -> ConditionType:
    """The registered type ``name``, or an error listing the known ones."""
    if name not in CONDITION_TYPES:
        raise ConfigError(f"unknown condition type {name!r}; known: {sorted(CONDITION_TYPES)}.")
    return CONDITION_TYPES[name]


for _builtin in (TextCondition(), EmbeddingCondition(), AudioCondition()):
    register_condition_type(_builtin)

__all__ = [
    "CONDITION_TYPES",
    "ArgumentContext",
    "ConditionSpec",
    "ConditionType",
    "Kind",
    "Positions",
    "RowContext",
    "SequenceFormat",
    "Special",
    "Window",
    "check_codes",
    "condition_type",
    "register_condition_type",
]
