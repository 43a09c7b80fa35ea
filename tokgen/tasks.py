"""The [conditions, target] sequence format and the built-in tasks.

Every task is one sequence of positions (``L`` of them)::

    [TASK:tts] [MARK:text] t h e _ c a t ... [MARK:audio] a0 a1 ... a149 [SEP] y0 y1 ... yF-1 [EOS]
    |-- task --|------ condition segments, each with its type marker ------|    |--- target ---|

A position holds one of: a special token (task, markers, separator, end, padding), a
text token (characters from :mod:`tokgen.text`), one projected caption embedding, or one
codec frame (``K`` codes, embedded as a sum). Loss is on the target only. A task is a
:class:`TaskSpec` (its conditions and its target, named by manifest fields); the four
built-ins are below, and a new one is a YAML file read by :func:`load_task`. There is no
global task registry: each model keeps the specs of its tasks (``CodecLM.task_specs``, saved
in its checkpoint). How a condition lays itself out is its type's business
(:mod:`tokgen.conditions`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import torch

from tokgen.conditions import (
    ConditionSpec,
    Kind,
    Positions,
    SequenceFormat,
    Special,
    Window,
    check_codes,
    condition_type,
)
from tokgen.errors import ConfigError, InvalidInputError

LengthMode = Literal["eos", "duration"]
DEFAULT_DURATION = 4.0  # seconds, for a task without an end token or an aligned input
RESERVED_NAMES = frozenset(
    {"task", "duration", "sample_rate", "temperature", "top_k", "top_p", "cfg_scale", "seed",
     "use_cache", "progress", "model", "output", "help"}
)  # generate() / CLI options: no condition may be called so  # fmt: skip


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


def builtin_task(name: str) -> TaskSpec:
    """The built-in task ``name`` (tts, tta, lass, continuation), or an error listing them."""
    if name not in BUILTIN_TASKS:
        raise InvalidInputError(
            f"unknown task {name!r}; built-in tasks: {sorted(BUILTIN_TASKS)} (declare others "
            "in a YAML file, listed in a recipe's data.task_files)."
        )
    return BUILTIN_TASKS[name]


def default_length(spec: TaskSpec) -> str:
    """How long ``spec``'s result is when the caller gives no duration (for help texts)."""
    if spec.target.length == "eos":
        return "until the model ends it"
    if any(condition_type(c.type).is_aligned(c) for c in spec.conditions):
        return "as long as the input audio"
    return f"{DEFAULT_DURATION:g} s"


def condition_meaning(task: str, condition: ConditionSpec) -> str:
    """What ``condition`` means for ``task``: its own ``help``, or the built-in task's for
    checkpoints saved before specs carried one ("" when neither says)."""
    if condition.help or task not in BUILTIN_TASKS:
        return condition.help
    same = [c for c in BUILTIN_TASKS[task].conditions if c.name == condition.name]
    return same[0].help if same else ""


def load_task(path: str | Path) -> TaskSpec:
    """Read a task declared in YAML (see ``lm/tasks/``). Nothing global changes: a model
    trained on it keeps the spec in its checkpoint."""
    from tokgen.hub import read_yaml

    return task_from_dict(read_yaml(path), source=str(path))


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
    aliases = {n.removesuffix("_audio") for n in names if n.endswith("_audio")}  # --prompt
    clashes = sorted((set(names) & RESERVED_NAMES) | (aliases & set(names)))
    if clashes or not all(n.isidentifier() for n in names):
        raise ConfigError(
            f"{source}: condition names must be Python identifiers and not {clashes or names} "
            f"(taken by generate() or the CLI: {sorted(RESERVED_NAMES)}, and NAME for NAME_audio)."
        )
    for c in spec.conditions:
        try:
            condition_type(c.type)
        except ConfigError as err:
            raise ConfigError(f"{source}: condition {c.name!r}: {err}") from None
        if not 0 <= c.dropout < 1:
            raise ConfigError(f"{source}: condition {c.name!r} dropout must be in [0, 1).")
    if spec.target.length not in ("eos", "duration"):
        raise ConfigError(f"{source}: target.length must be 'eos' or 'duration'.")


def task_as_dict(spec: TaskSpec) -> dict[str, Any]:
    """Plain data for ``config.json`` (the inverse of :func:`task_from_dict`)."""
    return dataclasses.asdict(spec)


# ---- the built-in tasks -------------------------------------------------------------------
_BUILTINS = (
    TaskSpec(
        name="tts",
        description="transcript + a voice prompt -> speech in that voice",
        kinds=("speech",),
        conditions=(
            ConditionSpec(
                "text", "text", field="transcript", dropout=0.1, help="the words to speak"
            ),
            ConditionSpec(
                "prompt_audio",
                "audio",
                "path",
                window="random",
                seconds=3.0,
                same="voice",
                dropout=0.1,
                help="a few seconds of the voice to imitate",
            ),
        ),
        target=TargetSpec(field="path", length="eos", seconds=6.0),
    ),
    TaskSpec(
        name="tta",
        description="a caption -> audio",
        kinds=("music", "sound_event"),
        conditions=(
            ConditionSpec(
                "text",
                "embedding",
                field="captions",
                dropout=0.1,
                help="a description of the sound",
            ),
        ),
        target=TargetSpec(field="path", length="duration", seconds=4.0),
    ),
    TaskSpec(
        name="lass",
        description="a text query + a mixture -> the queried source",
        kinds=("mixture",),
        expand="sources",
        conditions=(
            ConditionSpec(
                "text", "embedding", field="item.query", dropout=0.1, help="the source to keep"
            ),
            ConditionSpec(
                "audio",
                "audio",
                field="path",
                window="all",
                seconds=4.0,
                help="the mixture to separate",
            ),
        ),
        target=TargetSpec(field="item.path", length="duration", seconds=4.0),
    ),
    TaskSpec(
        name="continuation",
        description="the start of a clip (+ an optional caption) -> what follows",
        conditions=(
            ConditionSpec(
                "audio",
                "audio",
                field="path",
                window="head",
                seconds=2.0,
                help="the audio to continue",
            ),
            ConditionSpec(
                "text",
                "embedding",
                field="captions",
                required=False,
                dropout=0.5,
                help="a caption of what should follow",
            ),
        ),
        target=TargetSpec(field="path", length="duration", window="tail", seconds=4.0),
    ),
)
for _spec in _BUILTINS:
    _check_spec(_spec)
BUILTIN_TASKS = MappingProxyType({spec.name: spec for spec in _BUILTINS})


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
    fmt: SequenceFormat,
) -> Sequence:
    """Lay out one example in a model's format ``fmt``.

    ``conditions`` maps condition names to what their type lays out (text: ``list[int]``
    token ids, embedding: ``[E]``, audio: ``[K, F]`` codes). Missing or ``None`` optional
    conditions (and dropped ones) are left out with their marker. ``target`` is ``[K, F]``
    codes, or None for a generation prefix (which then ends at SEP).
    """
    unknown = set(conditions) - {c.name for c in task.conditions}
    if unknown:
        raise InvalidInputError(
            f"task {task.name!r} got unknown condition(s) {sorted(unknown)}; it takes "
            f"{[c.name for c in task.conditions]}."
        )
    out = Positions(fmt)
    out.add(Kind.SPECIAL, Special.FIRST_TASK + task_index)
    for spec in task.conditions:
        value = conditions.get(spec.name)
        if value is None:
            continue
        ctype = condition_type(spec.type)
        out.add(Kind.SPECIAL, fmt.marker(ctype))
        ctype.lay_out(spec, value, out)
    out.add(Kind.SPECIAL, Special.SEP)
    target_start = len(out)
    target_frames = 0
    eos = task.target.length == "eos"
    if target is not None:
        codes = check_codes(target, fmt.num_codebooks, "target")
        target_frames = codes.shape[1]
        for frame in codes.T:
            out.add(Kind.TARGET, frame=frame)
        if eos:
            out.add(Kind.SPECIAL, Special.EOS)
    return Sequence(
        kinds=torch.tensor(out.kinds, dtype=torch.long),
        ids=torch.tensor(out.ids, dtype=torch.long),
        codes=torch.stack(out.frames),
        embeddings=(
            torch.stack(out.embeddings) if out.embeddings else torch.zeros(0, fmt.embedding_dim)
        ),
        target_start=target_start,
        target_frames=target_frames,
        eos=eos,
    )


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
