"""What every condition type shares: position kinds, special ids, the sequence format and
the :class:`ConditionType` interface with the two contexts it reads values from.

A condition type knows how to take a user's argument (``generate(name=value)``), how to
take a corpus row (training), and how it lays itself into a sequence. The three built-in
types own the marker ids 3-5; a new type declares a ``slot`` and gets a marker from a
reserved block after the task tokens, so adding one never shifts a trained task id.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from tokgen.errors import ConfigError

if TYPE_CHECKING:
    from tokgen.text import TextFrontend

Window = Literal["all", "head", "tail", "random"]


@dataclass(frozen=True)
class ConditionSpec:
    """One condition segment: its name (the ``generate`` argument), type and source field.

    ``field`` is a dotted manifest path (``transcript``, ``captions``, ``item.query``);
    ``item.`` refers to the element of the task's ``expand`` list. Audio conditions take
    ``window`` (which part of the clip) and ``seconds``; ``same`` names a manifest field
    whose value another row must share (a voice prompt from another clip of that voice).
    ``dropout`` is the training-time drop rate, which also makes the condition usable for
    classifier-free guidance.
    """

    name: str
    type: str  # a registered condition type: text, embedding, audio, ...
    field: str
    required: bool = True
    dropout: float = 0.0
    window: Window = "all"
    seconds: float | None = None
    same: str | None = None
    help: str = ""  # what it means for this task, for --help and the demo


class Kind(IntEnum):
    """What a position holds (``SequenceBatch.kinds``)."""

    PAD = 0
    SPECIAL = 1
    TEXT = 2
    EMBEDDING = 3
    AUDIO = 4  # a condition frame: all K codebooks
    TARGET = 5  # a target frame (the model decides which codebooks it sees)


class Special(IntEnum):
    """Ids of the special tokens; task tokens follow at ``Special.FIRST_TASK + task index``,
    then the markers reserved for condition types added later (:meth:`SequenceFormat.marker`)."""

    PAD = 0
    SEP = 1
    EOS = 2
    MARK_TEXT = 3
    MARK_EMBEDDING = 4
    MARK_AUDIO = 5
    FIRST_TASK = 6


@dataclass(frozen=True)
class SequenceFormat:
    """The sizes a sequence is laid out for (a model's ``LMConfig.sequence_format()``)."""

    num_codebooks: int  # K
    embedding_dim: int  # E of caption embeddings
    max_tasks: int = 16
    extra_markers: int = 0  # marker ids reserved for added condition types

    @property
    def special_ids(self) -> int:
        """Rows of a special-token embedding: base ids, task ids, reserved markers."""
        return Special.FIRST_TASK + self.max_tasks + self.extra_markers

    def marker(self, ctype: ConditionType) -> int:
        """The special id that opens a segment of ``ctype``."""
        if ctype.slot is None:
            return ctype.marker
        if not 0 <= ctype.slot < self.extra_markers:
            raise ConfigError(
                f"condition type {ctype.name!r} uses marker slot {ctype.slot}; this model "
                f"reserves {self.extra_markers} slot(s) (LMConfig.extra_markers): train a model "
                "with more, or give the type a free slot."
            )
        return Special.FIRST_TASK + self.max_tasks + ctype.slot


class Positions:
    """A sequence under construction: one entry per position (see :mod:`tokgen.tasks`)."""

    def __init__(self, fmt: SequenceFormat) -> None:
        self.fmt = fmt
        self.kinds: list[int] = []
        self.ids: list[int] = []
        self.frames: list[torch.Tensor] = []  # [K] per position, -1 where none
        self.embeddings: list[torch.Tensor] = []  # [E] per EMBEDDING position
        self._none = torch.full((fmt.num_codebooks,), -1, dtype=torch.long)

    def add(self, kind: int, token: int = 0, frame: torch.Tensor | None = None) -> None:
        self.kinds.append(int(kind))
        self.ids.append(int(token))
        self.frames.append(self._none if frame is None else frame)

    def add_embedding(self, vector: torch.Tensor) -> None:
        self.embeddings.append(vector)
        self.add(Kind.EMBEDDING)

    def __len__(self) -> int:
        return len(self.kinds)


@dataclass
class ArgumentContext:
    """What ``generate()`` lends a condition type to turn a user's argument into a value."""

    frontend: TextFrontend
    embed: Callable[[str], torch.Tensor]  # a caption or query -> [E]
    encode_audio: Callable[[ConditionSpec, Any], torch.Tensor]  # path/tensor/tuple -> [K, F]
    frame_rate: float


@dataclass
class RowContext:
    """What training lends a condition type to read a corpus row (``rng`` only when drawing)."""

    frontend: TextFrontend
    embed: Callable[[str], torch.Tensor] | None  # None while only checking rows
    codes: Callable[[Any], torch.Tensor | None]  # tokenized audio at a path -> [K, F]
    frames: Callable[[Any], int]  # its length in frames (0: none)
    frame_rate: float
    rng: random.Random | None = None
    offset: int = 0  # the target's crop, for conditions aligned with it
    span: int = 0


class ConditionType:
    """One kind of condition. Subclass, set the class attributes, and register an instance
    with :func:`tokgen.conditions.register_condition_type`."""

    name: ClassVar[str]
    help: ClassVar[str]  # what a Python caller passes, for error messages
    cli_help: ClassVar[str] = ""  # what a command-line user passes (default: ``help``)
    marker: ClassVar[int] = -1  # built-in types only
    slot: ClassVar[int | None] = None  # added types: a reserved marker slot, 0 upwards

    def from_argument(self, spec: ConditionSpec, value: Any, ctx: ArgumentContext) -> Any:
        """A user's ``generate()`` argument -> the value :meth:`lay_out` takes."""
        raise NotImplementedError

    def present(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> bool:
        """Whether a manifest value can be used for training."""
        raise NotImplementedError

    def from_row(self, spec: ConditionSpec, value: Any, ctx: RowContext) -> Any:
        """A manifest value -> the value :meth:`lay_out` takes (None: leave it out)."""
        raise NotImplementedError

    def lay_out(self, spec: ConditionSpec, value: Any, out: Positions) -> None:
        """Append the value's positions (the marker is already there)."""
        raise NotImplementedError

    def strings(self, spec: ConditionSpec, value: Any) -> list[str]:
        """Strings of a manifest value that training embeds up front (captions)."""
        return []

    def spoken_characters(self, value: Any) -> int:
        """Characters to be spoken (bounds how early speech may end)."""
        return 0

    def is_aligned(self, spec: ConditionSpec) -> bool:
        """Whether the target is as long as this condition's input (a mixture)."""
        return False

    def aligned_frames(self, spec: ConditionSpec, value: Any) -> int | None:
        """Frames of an input the target is as long as (where :meth:`is_aligned`), else None."""
        return None
