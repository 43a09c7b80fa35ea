"""``tokgen.load`` and ``model.generate(task, ...)``: text and audio in, audio out.

The loop runs in :func:`tokgen.lm.generate.generate_codes`; this module turns user
arguments into task sequences (text front end, caption encoder, codec), checks them, and
decodes the codes.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tokgen import audio as audio_io
from tokgen import hub
from tokgen.checks import number
from tokgen.codecs import Codec
from tokgen.errors import InvalidInputError, PretrainedNotFoundError
from tokgen.lm.checkpoint import load_lm
from tokgen.lm.config import LMConfig
from tokgen.lm.generate import Budget, generate_codes
from tokgen.lm.model import CodecLM
from tokgen.lm.sampling import MAX_CFG_SCALE, SamplingParams, generators_for
from tokgen.tasks import ConditionSpec, Sequence, TaskSpec, build_sequence, get_task
from tokgen.text import TextFrontend

PRETRAINED_DIR = hub.PRETRAINED_DIR
DEBUG_MODEL = "tokgen-lm-debug"
ARGUMENTS = ("text", "audio", "prompt_audio")
MIN_AUDIO_SECONDS = 0.2
DEFAULT_DURATION = 4.0
MAX_CAPTION_CHARS = 1000
DEFAULT_CFG_SCALE = 3.0  # where a task's conditions were trained with dropout
MAX_CHARS_PER_SECOND = 30.0  # corpus speech runs at about 12-16 characters per second


@dataclass
class GenerationOutput:
    """Generated audio ``[B, C, T]`` (zero-padded past each item's ``lengths``) and codes
    ``[B, K, F]`` (-1 past each item's frames)."""

    audio: torch.Tensor
    sample_rate: int
    codes: torch.Tensor
    lengths: list[int]  # samples per item

    def save(self, path: str | os.PathLike) -> list[Path]:
        """Write ``path`` (one item) or ``stem-0.wav, stem-1.wav, ...`` (a batch)."""
        paths = audio_io.batch_paths(path, self.audio.shape[0])
        return [
            audio_io.save(item, self.audio[i, :, :length], self.sample_rate)
            for i, (item, length) in enumerate(zip(paths, self.lengths))
        ]


class TokgenModel:
    """A codec LM with its codec and text front end; see :meth:`generate`."""

    def __init__(self, lm: CodecLM, codec: Codec, name: str = "model") -> None:
        if codec.num_codebooks < lm.config.num_codebooks:
            raise InvalidInputError(
                f"{name} needs {lm.config.num_codebooks} codebooks; the codec has "
                f"{codec.num_codebooks}."
            )
        self.lm = lm.eval()
        self.codec = codec
        self.name = name
        self.frontend = TextFrontend(max_tokens=lm.config.max_text_tokens)

    @property
    def config(self) -> LMConfig:
        return self.lm.config

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def tasks(self) -> list[str]:
        return list(self.config.tasks)

    def generate(
        self,
        task: str,
        text: str | list[str] | None = None,
        *,
        audio: Any = None,
        prompt_audio: Any = None,
        duration: float | list[float] | None = None,
        sample_rate: int | None = None,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        cfg_scale: float | None = None,
        seed: int | list[int] | None = None,
        use_cache: bool = True,
        progress: bool = False,
    ) -> GenerationOutput:
        """Run ``task`` (``tts``, ``tta``, ``lass``, ``continuation`` or a trained custom one).

        ``text``/``audio``/``prompt_audio``/``duration`` take one value or a list (a batch;
        single values are shared). Audio is a path, a tensor with ``sample_rate=``, or a
        ``(tensor, sample_rate)`` tuple. ``duration`` (seconds) sets the length for tasks
        without an end token (default 4 s; lass uses the mixture's length) and caps it
        for tts. ``seed`` seeds item ``i`` with ``seed + i`` (or give one per item), so a
        batched call equals the same items generated one by one. ``cfg_scale`` (classifier-free
        guidance) defaults to 3 where the task was trained with condition dropout and to 1
        (off) where it was not; asking for guidance there warns that it has no effect.
        """
        spec = self._task(task)
        params = SamplingParams(temperature, top_k, top_p)
        if cfg_scale is not None:
            cfg_scale = number("cfg_scale", cfg_scale, low=0, high=MAX_CFG_SCALE)
        given = {"text": text, "audio": audio, "prompt_audio": prompt_audio}
        batch = _batch_size({**given, "duration": duration})
        generators = generators_for(seed, batch)  # seeds checked before any model work
        items = [self._conditions(spec, given, i, sample_rate) for i in range(batch)]
        budgets = [self._budget(spec, item, _pick(duration, i)) for i, item in enumerate(items)]
        index = self.config.tasks.index(spec.name)
        k, dim = self.config.num_codebooks, self.config.embedding_dim
        prefixes = [
            build_sequence(spec, index, item, None, num_codebooks=k, embedding_dim=dim)
            for item in items
        ]
        for prefix, budget in zip(prefixes, budgets):
            self._check_length(prefix, budget)
        unconditional, cfg_scale = self._guidance(spec, items, cfg_scale)
        codes = generate_codes(
            self.lm,
            prefixes,
            budgets,
            generators,
            unconditional=unconditional,
            cfg_scale=cfg_scale,
            params=params,
            use_cache=use_cache,
            progress=progress,
        )
        return self._decode(codes)

    def _guidance(
        self, spec: TaskSpec, items: list[dict[str, Any]], cfg_scale: float | None
    ) -> tuple[list[Sequence] | None, float]:
        """The unconditional prefixes for classifier-free guidance (None: unguided) and the
        scale: ``cfg_scale``, or by default 3 where a given condition was trained with
        dropout and 1 elsewhere (asking for guidance there warns that it does nothing)."""
        given_names = set().union(*(item.keys() for item in items))
        droppable = {c.name for c in spec.conditions if c.dropout > 0} & given_names
        if not droppable and cfg_scale not in (None, 1.0):
            warnings.warn(
                f"cfg_scale={cfg_scale:g} has no effect on {spec.name!r} with {self.name}: none "
                "of its conditions was trained with dropout, so there is nothing to guide "
                "against; generating unguided.",
                stacklevel=3,
            )
        cfg_scale = (DEFAULT_CFG_SCALE if droppable else 1.0) if cfg_scale is None else cfg_scale
        if not droppable or cfg_scale == 1.0:  # guidance needs a condition to leave out
            return None, cfg_scale
        index = self.config.tasks.index(spec.name)
        k, dim = self.config.num_codebooks, self.config.embedding_dim
        unconditional = [
            build_sequence(
                spec,
                index,
                {n: v for n, v in item.items() if n not in droppable},
                None,
                num_codebooks=k,
                embedding_dim=dim,
            )
            for item in items
        ]
        return unconditional, cfg_scale

    # ---- arguments -> conditions -----------------------------------------------------
    def _task(self, name: str) -> TaskSpec:
        spec = get_task(name)
        if name not in self.config.tasks:
            raise InvalidInputError(
                f"{self.name} was not trained for task {name!r}; it does {self.config.tasks}."
            )
        return spec

    def _conditions(
        self, spec: TaskSpec, given: dict[str, Any], i: int, sample_rate: int | None
    ) -> dict[str, Any]:
        wanted = {c.name for c in spec.conditions}
        extra = [n for n in ARGUMENTS if given[n] is not None and n not in wanted]
        if extra:
            raise InvalidInputError(
                f"task {spec.name!r} does not take {extra}; it takes {sorted(wanted)}."
            )
        values: dict[str, Any] = {}
        for condition in spec.conditions:
            value = _pick(given.get(condition.name), i)
            if value is None:
                if condition.required:
                    raise InvalidInputError(
                        f"task {spec.name!r} needs {condition.name}= ({condition.type}: "
                        f"{_describe(condition)})."
                    )
                continue
            values[condition.name] = self._condition(condition, value, sample_rate)
        return values

    def _condition(self, spec: ConditionSpec, value: Any, sample_rate: int | None) -> Any:
        if spec.type == "text":
            return self.frontend.encode(value)
        if spec.type == "embedding":
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(f"{spec.name} must be a non-empty string, got {value!r}.")
            if len(value) > MAX_CAPTION_CHARS:
                raise InvalidInputError(
                    f"{spec.name} is {len(value)} characters long; at most {MAX_CAPTION_CHARS} "
                    "are read (the caption encoder sees about 256 tokens): shorten it."
                )
            from tokgen.text import caption_encoder

            return caption_encoder().encode([value])[0]
        clip = audio_io.load(
            value,
            sample_rate if not isinstance(value, (str, os.PathLike, tuple)) else None,
            target_sample_rate=self.codec.sample_rate,
            channels=self.codec.channels,
            max_seconds=self.config.max_duration,
        )
        if clip.duration < MIN_AUDIO_SECONDS:
            raise InvalidInputError(
                f"{spec.name} is {clip.duration:.2f} s long; at least {MIN_AUDIO_SECONDS} s "
                "are needed."
            )
        if clip.samples.shape[0] != 1:
            raise InvalidInputError(
                f"{spec.name} must be one clip per item, got a batch of {clip.samples.shape[0]}; "
                "pass a list for a batch."
            )
        codes = self.codec.encode(clip.samples, clip.sample_rate)[0, : self.config.num_codebooks]
        if spec.window == "head" and spec.seconds:  # the prompt's end is what continues
            codes = codes[:, -round(spec.seconds * self.config.frame_rate) :]
        elif spec.window == "random" and spec.seconds:
            codes = codes[:, : round(spec.seconds * self.config.frame_rate)]
        return codes

    def _budget(self, spec: TaskSpec, item: dict[str, Any], duration: float | None) -> Budget:
        limit = self.config.max_duration
        if duration is not None:
            try:
                duration = number("duration", duration, low=0.2, high=limit)
            except InvalidInputError as err:
                raise InvalidInputError(
                    f"duration must be between 0.2 and {limit:g} seconds (this model's "
                    f"maximum), got {duration!r}."
                ) from err
        rate = self.config.frame_rate
        if spec.target.length == "eos":
            frames = round((duration or limit) * rate)
            text = sum(len(v) for c, v in item.items() if spec.condition(c).type == "text")
            # no speech is faster than MAX_CHARS_PER_SECOND: an earlier end token is a glitch
            shortest = round(text / MAX_CHARS_PER_SECOND * rate)
            return Budget(frames, stop_at_eos=True, min_frames=max(1, min(shortest, frames)))
        if duration is None:  # as long as an aligned input (the mixture), else the default
            aligned = [
                item[c.name]
                for c in spec.conditions
                if c.type == "audio" and c.window == "all" and c.name in item
            ]
            return Budget(aligned[0].shape[1] if aligned else round(DEFAULT_DURATION * rate))
        return Budget(max(1, round(duration * rate)))

    def _check_length(self, prefix: Sequence, budget: Budget) -> None:
        total = len(prefix) + budget.frames + 1
        if total > self.config.max_positions:
            raise InvalidInputError(
                f"the conditions ({len(prefix)} positions) and {budget.frames} target frames "
                f"exceed the model's {self.config.max_positions} positions; use shorter text, "
                "audio or duration."
            )

    def _decode(self, codes: list[torch.Tensor]) -> GenerationOutput:
        k = self.config.num_codebooks
        frames = max(max(c.shape[1] for c in codes), 1)
        padded = torch.full((len(codes), k, frames), -1, dtype=torch.long)
        hop = self.codec.hop_length
        audio = torch.zeros(len(codes), self.codec.channels, frames * hop)
        lengths = []
        for i, item in enumerate(codes):
            padded[i, :, : item.shape[1]] = item
            lengths.append(item.shape[1] * hop)
            if item.shape[1]:
                audio[i, :, : lengths[-1]] = self.codec.decode(item[None])[0]
        return GenerationOutput(audio, self.codec.sample_rate, padded, lengths)


def _describe(spec: ConditionSpec) -> str:
    return {
        "text": "the words to speak",
        "embedding": "a description or query",
        "audio": "a path, a (tensor, sample_rate) tuple, or a tensor with sample_rate=",
    }[spec.type]


def _batch_size(values: dict[str, Any]) -> int:
    sizes = {len(v) for v in values.values() if isinstance(v, list)}
    if len(sizes) > 1:
        raise InvalidInputError(
            f"list arguments must have one length, got lengths {sorted(sizes)}."
        )
    size = sizes.pop() if sizes else 1
    if size == 0:
        raise InvalidInputError("got empty lists; pass at least one item.")
    return size


def _pick(value: Any, i: int) -> Any:
    return value[i] if isinstance(value, list) else value


def shipped_models() -> list[str]:
    """Names of the generative models in ``tokgen/pretrained/``."""
    from tokgen.lm.checkpoint import KIND

    return [
        config.parent.name
        for config in sorted(PRETRAINED_DIR.glob("*/config.json"))
        if json.loads(config.read_text()).get("kind") == KIND
    ]


def load(name_or_path: str | os.PathLike = "tokgen-small") -> TokgenModel:
    """A shipped model by name (``tokgen-small``), an LM directory, or ``tokgen-lm-debug``
    (a tiny random model on the debug codec, for tests)."""
    from tokgen.codecs import load_codec

    if str(name_or_path) == DEBUG_MODEL:
        torch.manual_seed(0)
        lm = CodecLM(
            LMConfig(
                codec="tokgen-codec-debug",
                num_codebooks=4,
                cardinality=64,
                text_vocab=TextFrontend().vocab_size,
                d_model=32,
                n_heads=2,
                ar_layers=1,
                nar_layers=1,
                max_positions=1024,
            )
        )
        return TokgenModel(lm, load_codec("tokgen-codec-debug"), DEBUG_MODEL)
    path = Path(name_or_path)
    if not path.is_dir():
        shipped = PRETRAINED_DIR / str(name_or_path)
        if not shipped.is_dir():
            raise PretrainedNotFoundError(
                f"{name_or_path!r} is neither a directory nor a shipped model (shipped: "
                f"{shipped_models()}; {DEBUG_MODEL!r} is a tiny random one for tests). Train "
                "one with `tokgen train lm --config lm/tokgen_small.yaml` and load its "
                "run directory's model/."
            )
        path = shipped
    lm = load_lm(path)
    return TokgenModel(lm, load_codec(lm.config.codec), str(name_or_path))
