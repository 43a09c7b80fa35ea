"""The [conditions, target] sequence format and the task registry.

Every task is one sequence of positions (``L`` of them)::

    [TASK:tts] [MARK:text] t h e _ c a t ... [MARK:audio] a0 a1 ... a149 [SEP] y0 y1 ... yF-1 [EOS]
    |-- task --|------ condition segments, each with its type marker ------|    |--- target ---|

A position holds one of: a special token (task, markers, separator, end, padding), a
text token (characters from :mod:`tokgen.text`), one projected caption embedding, or one
codec frame (``K`` codes, embedded as a sum). Loss is on the target only. A task is a
:class:`TaskSpec` (its conditions and its target, named by manifest fields); the four
built-ins are below, and a new one is a YAML file read by :func:`load_task`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import torch

from tokgen.errors import ConfigError, InvalidInputError

ConditionType = Literal["text", "embedding", "audio"]
LengthMode = Literal["eos", "duration"]
Window = Literal["all", "head", "tail", "random"]


class Kind(IntEnum):
    """What a position holds (``SequenceBatch.kinds``)."""

    PAD = 0
    SPECIAL = 1
    TEXT = 2
    EMBEDDING = 3
    AUDIO = 4  # a condition frame: all K codebooks
    TARGET = 5  # a target frame (the model decides which codebooks it sees)


class Special(IntEnum):
    """Ids of the special tokens; task tokens follow at ``Special.FIRST_TASK + task index``."""

    PAD = 0
    SEP = 1
    EOS = 2
    MARK_TEXT = 3
    MARK_EMBEDDING = 4
    MARK_AUDIO = 5
    FIRST_TASK = 6


MARKERS: dict[str, Special] = {
    "text": Special.MARK_TEXT,
    "embedding": Special.MARK_EMBEDDING,
    "audio": Special.MARK_AUDIO,
}


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
    type: ConditionType
    field: str
    required: bool = True
    dropout: float = 0.0
    window: Window = "all"
    seconds: float | None = None
    same: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    """The target audio: a manifest field of audio, its window, and how its length is set."""

    field: str = "path"
    length: LengthMode = "duration"  # "eos": the model ends it; "duration": the caller does
    window: Window = "all"
    seconds: float | None = None  # the longest target trained on (a random crop beyond it)


@dataclass(frozen=True)
class TaskSpec:
    """A task: which manifest rows it reads, its conditions and its target."""

    name: str
    conditions: tuple[ConditionSpec, ...]
    target: TargetSpec = field(default_factory=TargetSpec)
    kinds: tuple[str, ...] = ()  # manifest kinds it trains on; empty means all
    expand: str | None = None  # a list field: one example per element (``item.``)
    description: str = ""

    def condition(self, name: str) -> ConditionSpec:
        for spec in self.conditions:
            if spec.name == name:
                return spec
        raise InvalidInputError(
            f"task {self.name!r} has no condition {name!r}; it takes "
            f"{[c.name for c in self.conditions]}."
        )


TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    """Add a task to the registry (``replace=True`` to redefine one)."""
    _check_spec(spec)
    if spec.name in TASKS and not replace and TASKS[spec.name] != spec:
        raise ConfigError(f"task {spec.name!r} is already registered with another definition.")
    TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    """The registered task ``name``, or an error listing the known ones."""
    if name not in TASKS:
        raise InvalidInputError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}.")
    return TASKS[name]


def load_task(path: str | Path) -> TaskSpec:
    """Read a task declared in YAML (see ``lm/tasks/``) and register it."""
    from tokgen.hub import read_yaml

    raw = read_yaml(path)
    return register_task(task_from_dict(raw, source=str(path)), replace=True)


def task_from_dict(raw: Any, *, source: str = "task") -> TaskSpec:
    """A :class:`TaskSpec` from plain data, with errors that name the bad field."""
    from tokgen.hub import config_from_dict

    if not isinstance(raw, dict) or "name" not in raw or "conditions" not in raw:
        raise ConfigError(f"{source}: a task needs 'name' and a list of 'conditions'.")
    if not isinstance(raw["conditions"], list) or not raw["conditions"]:
        raise ConfigError(f"{source}: 'conditions' must be a non-empty list.")
    conditions = tuple(
        config_from_dict(ConditionSpec, item, source=f"{source} conditions[{i}]")
        for i, item in enumerate(raw["conditions"])
    )
    target = config_from_dict(TargetSpec, raw.get("target") or {}, source=f"{source} target")
    rest = {k: v for k, v in raw.items() if k not in ("conditions", "target")}
    if "kinds" in rest:
        rest["kinds"] = tuple(rest["kinds"])
    spec = config_from_dict(
        TaskSpec,
        {**rest, "conditions": conditions, "target": target},
        source=source,
    )
    _check_spec(spec, source)
    return spec


def _check_spec(spec: TaskSpec, source: str = "task") -> None:
    names = [c.name for c in spec.conditions]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: condition names must be unique, got {names}.")
    for c in spec.conditions:
        if c.type not in MARKERS:
            raise ConfigError(
                f"{source}: condition {c.name!r} has type {c.type!r}; use {list(MARKERS)}."
            )
        if not 0 <= c.dropout < 1:
            raise ConfigError(f"{source}: condition {c.name!r} dropout must be in [0, 1).")
    if spec.target.length not in ("eos", "duration"):
        raise ConfigError(f"{source}: target.length must be 'eos' or 'duration'.")


def task_as_dict(spec: TaskSpec) -> dict[str, Any]:
    """Plain data for ``config.json`` (the inverse of :func:`task_from_dict`)."""
    return dataclasses.asdict(spec)


# ---- the built-in tasks -------------------------------------------------------------------
register_task(
    TaskSpec(
        name="tts",
        description="transcript + a voice prompt -> speech in that voice",
        kinds=("speech",),
        conditions=(
            ConditionSpec("text", "text", field="transcript"),
            ConditionSpec(
                "prompt_audio", "audio", "path", window="random", seconds=3.0, same="voice"
            ),
        ),
        target=TargetSpec(field="path", length="eos", seconds=6.0),
    )
)
register_task(
    TaskSpec(
        name="tta",
        description="a caption -> audio",
        kinds=("music", "sound_event"),
        conditions=(ConditionSpec("text", "embedding", field="captions", dropout=0.1),),
        target=TargetSpec(field="path", length="duration", seconds=4.0),
    )
)
register_task(
    TaskSpec(
        name="lass",
        description="a text query + a mixture -> the queried source",
        kinds=("mixture",),
        expand="sources",
        conditions=(
            ConditionSpec("text", "embedding", field="item.query", dropout=0.1),
            ConditionSpec("audio", "audio", field="path", window="all", seconds=4.0),
        ),
        target=TargetSpec(field="item.path", length="duration", seconds=4.0),
    )
)
register_task(
    TaskSpec(
        name="continuation",
        description="the start of a clip (+ an optional caption) -> what follows",
        conditions=(
            ConditionSpec("audio", "audio", field="path", window="head", seconds=2.0),
            ConditionSpec("text", "embedding", field="captions", required=False, dropout=0.5),
        ),
        target=TargetSpec(field="path", length="duration", window="tail", seconds=4.0),
    )
)


# ---- sequences ----------------------------------------------------------------------------
@dataclass
class Sequence:
    """One example as positions (``L``); see the module docstring for the layout.

    ``codes`` holds audio codes at AUDIO/TARGET positions and -1 elsewhere; ``embeddings``
    the caption vectors in order of their EMBEDDING positions.
    """

    kinds: torch.Tensor  # [L] Kind
    ids: torch.Tensor  # [L] special or text id (0 at other positions)
    codes: torch.Tensor  # [L, K] codec codes, -1 where none
    embeddings: torch.Tensor  # [N_emb, E]
    target_start: int  # index of the first target frame (right after SEP)
    target_frames: int
    eos: bool  # whether an EOS position closes the target

    def __len__(self) -> int:
        return int(self.kinds.shape[0])

    @property
    def prefix_length(self) -> int:
        """Positions up to and including SEP: what generation starts from."""
        return self.target_start


def build_sequence(
    task: TaskSpec,
    task_index: int,
    conditions: dict[str, Any],
    target: torch.Tensor | None,
    *,
    num_codebooks: int,
    embedding_dim: int,
) -> Sequence:
    """Lay out one example.

    ``conditions`` maps condition names to values: text -> ``list[int]`` token ids, embedding
    -> ``[E]`` tensor, audio -> ``[K, F]`` codes. Missing or ``None`` optional conditions
    (and dropped ones) are left out with their marker. ``target`` is ``[K, F]`` codes, or
    None for a generation prefix (which then ends at SEP).
    """
    unknown = set(conditions) - {c.name for c in task.conditions}
    if unknown:
        raise InvalidInputError(
            f"task {task.name!r} got unknown condition(s) {sorted(unknown)}; it takes "
            f"{[c.name for c in task.conditions]}."
        )
    kinds: list[int] = [Kind.SPECIAL]
    ids: list[int] = [Special.FIRST_TASK + task_index]
    frames: list[torch.Tensor] = []  # [K] per position
    embeddings: list[torch.Tensor] = []
    none = torch.full((num_codebooks,), -1, dtype=torch.long)
    frames.append(none)

    def add(kind: int, token: int = 0, frame: torch.Tensor = none) -> None:
        kinds.append(kind)
        ids.append(token)
        frames.append(frame)

    for spec in task.conditions:
        value = conditions.get(spec.name)
        if value is None:
            continue
        add(Kind.SPECIAL, MARKERS[spec.type])
        if spec.type == "text":
            for token in value:
                add(Kind.TEXT, int(token))
        elif spec.type == "embedding":
            vector = torch.as_tensor(value, dtype=torch.float32)
            if vector.shape != (embedding_dim,):
                raise InvalidInputError(
                    f"condition {spec.name!r} must be a [{embedding_dim}] embedding, "
                    f"got {tuple(vector.shape)}."
                )
            embeddings.append(vector)
            add(Kind.EMBEDDING)
        else:
            codes = _check_codes(value, num_codebooks, spec.name)
            for frame in codes.T:
                add(Kind.AUDIO, frame=frame)
    add(Kind.SPECIAL, Special.SEP)
    target_start = len(kinds)
    target_frames = 0
    eos = task.target.length == "eos"
    if target is not None:
        codes = _check_codes(target, num_codebooks, "target")
        target_frames = codes.shape[1]
        for frame in codes.T:
            add(Kind.TARGET, frame=frame)
        if eos:
            add(Kind.SPECIAL, Special.EOS)
    return Sequence(
        kinds=torch.tensor(kinds, dtype=torch.long),
        ids=torch.tensor(ids, dtype=torch.long),
        codes=torch.stack(frames),
        embeddings=(torch.stack(embeddings) if embeddings else torch.zeros(0, embedding_dim)),
        target_start=target_start,
        target_frames=target_frames,
        eos=eos,
    )


def _check_codes(value: Any, num_codebooks: int, name: str) -> torch.Tensor:
    codes = torch.as_tensor(value)
    if codes.dim() != 2 or codes.shape[0] < num_codebooks or codes.dtype.is_floating_point:
        raise InvalidInputError(
            f"{name} must be integer codes [K>={num_codebooks}, F], got "
            f"{tuple(codes.shape)} {codes.dtype}."
        )
    if codes.shape[1] == 0:
        raise InvalidInputError(f"{name} has no frames.")
    return codes[:num_codebooks].long()


@dataclass
class SequenceBatch:
    """Sequences padded to one length. ``pad_left`` aligns their ends (for generation).

    ``positions`` counts from each item's first real position, so padding never shifts
    what the model sees.
    """

    kinds: torch.Tensor  # [B, L]
    ids: torch.Tensor  # [B, L]
    codes: torch.Tensor  # [B, L, K]
    embeddings: torch.Tensor  # [B, L, E], zeros except at EMBEDDING positions
    positions: torch.Tensor  # [B, L]
    target_start: torch.Tensor  # [B] index of the first target position in the padded row
    target_frames: torch.Tensor  # [B]

    @property
    def padding(self) -> torch.Tensor:
        """``[B, L]`` True at padding positions."""
        return self.kinds == Kind.PAD

    def target_mask(self) -> torch.Tensor:
        """``[B, L]`` True at target frames."""
        return self.kinds == Kind.TARGET

    def to(self, device: torch.device | str) -> SequenceBatch:
        return SequenceBatch(
            **{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)}
        )


def collate(sequences: list[Sequence], *, pad_left: bool = False) -> SequenceBatch:
    """Pad sequences into one batch (right padding for training, left for generation)."""
    if not sequences:
        raise InvalidInputError("cannot collate an empty list of sequences.")
    length = max(len(s) for s in sequences)
    batch, dim = len(sequences), sequences[0].embeddings.shape[1]
    num_codebooks = sequences[0].codes.shape[1]
    kinds = torch.zeros(batch, length, dtype=torch.long)
    ids = torch.zeros(batch, length, dtype=torch.long)
    codes = torch.full((batch, length, num_codebooks), -1, dtype=torch.long)
    embeddings = torch.zeros(batch, length, dim)
    positions = torch.zeros(batch, length, dtype=torch.long)
    starts = torch.zeros(batch, dtype=torch.long)
    for b, seq in enumerate(sequences):
        offset = length - len(seq) if pad_left else 0
        span = slice(offset, offset + len(seq))
        kinds[b, span] = seq.kinds
        ids[b, span] = seq.ids
        codes[b, span] = seq.codes
        embedding_at = (seq.kinds == Kind.EMBEDDING).nonzero().flatten() + offset
        embeddings[b, embedding_at] = seq.embeddings
        positions[b, span] = torch.arange(len(seq))
        starts[b] = offset + seq.target_start
    return SequenceBatch(
        kinds=kinds,
        ids=ids,
        codes=codes,
        embeddings=embeddings,
        positions=positions,
        target_start=starts,
        target_frames=torch.tensor([s.target_frames for s in sequences]),
    )
