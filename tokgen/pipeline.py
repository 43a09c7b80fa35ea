"""``tokgen.load`` and ``model.generate(task, ...)``: text and audio in, audio out.

The loop runs in :func:`tokgen.lm.generate.generate_codes`; this module turns user
arguments into task sequences (text front end, caption encoder, codec), checks them, and
decodes the codes.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tokgen import audio as audio_io
from tokgen import hub
from tokgen.checks import number
from tokgen.codecs import Codec
from tokgen.conditions import ArgumentContext, condition_type
from tokgen.decoders import DEFAULT_DECODER, Decoder, build_decoder
from tokgen.errors import ConfigError, InvalidInputError, PretrainedNotFoundError
from tokgen.lm.checkpoint import load_lm
from tokgen.lm.config import LMConfig
from tokgen.lm.generate import Budget, generate_codes
from tokgen.lm.model import CodecLM
from tokgen.lm.sampling import MAX_CFG_SCALE, SamplingParams, generators_for
from tokgen.tasks import (
    DEFAULT_DURATION,
    ConditionSpec,
    Sequence,
    TaskSpec,
    build_sequence,
    builtin_task,
)
from tokgen.text import TextFrontend, make_frontend

PRETRAINED_DIR = hub.PRETRAINED_DIR
DEBUG_MODEL = "tokgen-lm-debug"
DEFAULT_MODEL = "tokgen-small"  # the multi-task default
TASK_DEFAULT_MODELS = {
    "tts": "tokgen-tts-small",
    "lass": "tokgen-sep-small",
    "continuation": "tokgen-texture",
}  # where another shipped model does better
DEBUG_DIFFUSION = "tokgen-diffusion-debug"
INDEX_NAME = "model_index.json"  # names the parts of a model made of several
PIPELINE_KIND = "tokgen-pipeline"
MIN_AUDIO_SECONDS = 0.2
DEFAULT_CFG_SCALE = 3.0  # where a task's conditions were trained with dropout
MAX_CHARS_PER_SECOND = 30.0  # corpus speech runs at about 12-16 characters per second


@dataclass
class GenerationOutput:
    """Generated audio ``[B, C, T]`` (zero-padded past each item's ``lengths``) and codes
    ``[B, K, F]`` (-1 past each item's frames); a diffusion model also gives the continuous
    ``latents`` ``[B, D, F]`` it sampled (zero past each item's frames).

    A model whose codes cost a codec analysis of its output (the mask separator) passes
    ``codes`` as a function of no arguments: it runs on the first use of ``out.codes``, once."""

    audio: torch.Tensor
    sample_rate: int
    codes: torch.Tensor
    lengths: list[int]  # samples per item
    latents: torch.Tensor | None = None  # [B, D, F] a diffusion model's continuous output

    def save(self, path: str | os.PathLike) -> list[Path]:
        """Write ``path`` (one item) or ``stem-0.wav, stem-1.wav, ...`` (a batch)."""
        paths = audio_io.batch_paths(path, self.audio.shape[0])
        return [
            audio_io.save(item, self.audio[i, :, :length], self.sample_rate)
            for i, (item, length) in enumerate(zip(paths, self.lengths))
        ]


def _get_codes(output: GenerationOutput) -> torch.Tensor:
    if callable(output._codes):
        output._codes = output._codes()
    return output._codes


def _set_codes(output: GenerationOutput, codes: torch.Tensor | Callable[[], torch.Tensor]) -> None:
    output._codes = codes


# a property set after the class body, so that the dataclass keeps `codes` a plain argument
GenerationOutput.codes = property(_get_codes, _set_codes)  # type: ignore[assignment]


class TokgenModel:
    """A codec LM with its codec (to read audio conditions), its decoder (codes -> audio;
    by default the codec's, masking the mixture for separation) and text front end; see
    :meth:`generate`."""

    def __init__(
        self,
        lm: CodecLM,
        codec: Codec,
        name: str = "model",
        *,
        decoder: Decoder | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if codec.num_codebooks < lm.config.num_codebooks:
            raise InvalidInputError(
                f"{name} needs {lm.config.num_codebooks} codebooks; the codec has "
                f"{codec.num_codebooks}."
            )
        self.device = resolve_device(device)
        self.lm = lm.eval().to(self.device)
        self.codec = codec
        self.decoder = decoder or build_decoder({}, Path(), codec)
        self.name = name
        self.frontend = make_frontend(lm.config.text_frontend, lm.config.max_text_tokens)

    @property
    def config(self) -> LMConfig:
        return self.lm.config

    @property
    def sample_rate(self) -> int:
        return self.decoder.sample_rate

    @property
    def tasks(self) -> list[str]:
        return list(self.config.tasks)

    def task(self, name: str) -> TaskSpec:
        """The spec of task ``name`` as this model was trained on it."""
        if name not in self.config.tasks:
            raise InvalidInputError(
                f"{self.name} was not trained for task {name!r}; it does {self.config.tasks}."
            )
        return self.lm.task_specs[name]

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
        **conditions: Any,
    ) -> GenerationOutput:
        """Run ``task`` (``tts``, ``tta``, ``lass``, ``continuation`` or a trained custom one).

        Conditions are passed by name: ``text``, ``audio``, ``prompt_audio``, or any other
        name the task declares (``**conditions``; ``model.task(name).conditions`` lists
        them). Each takes one value or a list (a batch; single values are shared), as does
        ``duration``. Audio is a path, a tensor with ``sample_rate=``, or a
        ``(tensor, sample_rate)`` tuple. ``duration`` (seconds) sets the length for tasks
        without an end token (default 4 s; lass uses the mixture's length) and caps it
        for tts. ``seed`` seeds item ``i`` with ``seed + i`` (or give one per item), so a
        batched call equals the same items generated one by one. ``cfg_scale`` (classifier-free
        guidance) defaults to 3 where the task was trained with condition dropout and to 1
        (off) where it was not; asking for guidance there warns that it has no effect.
        """
        spec = self.task(task)
        params = SamplingParams(temperature, top_k, top_p)
        if cfg_scale is not None:
            cfg_scale = number("cfg_scale", cfg_scale, low=0, high=MAX_CFG_SCALE)
        given = {"text": text, "audio": audio, "prompt_audio": prompt_audio, **conditions}
        given = {name: value for name, value in given.items() if value is not None}
        _check_names(spec, given)
        batch = _batch_size({**given, "duration": duration})
        generators = generators_for(seed, batch)  # seeds checked before any model work
        context = self._argument_context(sample_rate)
        items = [self._conditions(spec, given, i, context) for i in range(batch)]
        budgets = [self._budget(spec, item, _pick(duration, i)) for i, item in enumerate(items)]
        prefixes = [self.prefix(spec, item) for item in items]
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
        arguments = [{name: _pick(value, i) for name, value in given.items()} for i in range(batch)]
        for item in arguments:  # what a decoder may need besides the conditions
            item.update(task=task, **({} if sample_rate is None else {"sample_rate": sample_rate}))
        return self._decode(codes, arguments)

    def prefix(self, spec: TaskSpec, values: dict[str, Any]) -> Sequence:
        """The generation prefix (up to SEP) of ``values``, as their condition types lay out."""
        index = self.config.tasks.index(spec.name)
        return build_sequence(spec, index, values, None, self.config.sequence_format())

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
        unconditional = [
            self.prefix(spec, {n: v for n, v in item.items() if n not in droppable})
            for item in items
        ]
        return unconditional, cfg_scale

    # ---- arguments -> conditions -----------------------------------------------------
    def _argument_context(self, sample_rate: int | None) -> ArgumentContext:
        def embed(caption: str) -> torch.Tensor:
            from tokgen.text import caption_encoder

            return caption_encoder().encode([caption])[0]

        return ArgumentContext(
            frontend=self.frontend,
            embed=embed,
            encode_audio=lambda spec, value: self._encode_audio(spec, value, sample_rate),
            frame_rate=self.config.frame_rate,
        )

    def _conditions(
        self, spec: TaskSpec, given: dict[str, Any], i: int, context: ArgumentContext
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for condition in spec.conditions:
            value = _pick(given.get(condition.name), i)
            ctype = condition_type(condition.type)
            if value is None:
                if condition.required:
                    raise InvalidInputError(
                        f"task {spec.name!r} needs {condition.name}= ({condition.type}: "
                        f"{ctype.help})."
                    )
                continue
            values[condition.name] = ctype.from_argument(condition, value, context)
        return values

    def _encode_audio(
        self, spec: ConditionSpec, value: Any, sample_rate: int | None
    ) -> torch.Tensor:
        """A user's audio (path, tensor, tuple) -> codes ``[K, F]`` of this model's codec."""
        clip = audio_argument(spec.name, value, sample_rate, self.codec, self.config.max_duration)
        return self.codec.encode(clip.samples, clip.sample_rate)[0, : self.config.num_codebooks]

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
        conditions = [(c, condition_type(c.type)) for c in spec.conditions if c.name in item]
        if spec.target.length == "eos":
            frames = round((duration or limit) * rate)
            text = sum(ctype.spoken_characters(item[c.name]) for c, ctype in conditions)
            # no speech is faster than MAX_CHARS_PER_SECOND: an earlier end token is a glitch
            shortest = round(text / MAX_CHARS_PER_SECOND * rate)
            return Budget(frames, stop_at_eos=True, min_frames=max(1, min(shortest, frames)))
        if duration is None:  # as long as an aligned input (the mixture), else the default
            aligned = [ctype.aligned_frames(c, item[c.name]) for c, ctype in conditions]
            aligned = [frames for frames in aligned if frames is not None]
            return Budget(aligned[0] if aligned else round(DEFAULT_DURATION * rate))
        return Budget(max(1, round(duration * rate)))

    def _check_length(self, prefix: Sequence, budget: Budget) -> None:
        total = len(prefix) + budget.frames + 1
        if total > self.config.max_positions:
            raise InvalidInputError(
                f"the conditions ({len(prefix)} positions) and {budget.frames} target frames "
                f"exceed the model's {self.config.max_positions} positions; use shorter text, "
                "audio or duration."
            )

    def reconstruct(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Mono ``wav [T]`` through this model's representation (codec tokens, as many
        codebooks as the LM uses) and back: what a perfect model could give. ``[T]``."""
        codes = self.codec.encode(wav, sample_rate)[:, : self.config.num_codebooks]
        return self.codec.decode(codes, length=wav.shape[-1])[0, 0]

    def _decode(
        self, codes: list[torch.Tensor], arguments: list[dict[str, Any]]
    ) -> GenerationOutput:
        k = self.config.num_codebooks
        frames = max(max(c.shape[1] for c in codes), 1)
        padded = torch.full((len(codes), k, frames), -1, dtype=torch.long)
        hop = self.decoder.hop_length
        audio = torch.zeros(len(codes), self.decoder.channels, frames * hop)
        lengths = []
        for i, item in enumerate(codes):
            padded[i, :, : item.shape[1]] = item
            lengths.append(item.shape[1] * hop)
            if item.shape[1]:
                audio[i, :, : lengths[-1]] = self.decoder.decode(item, arguments[i])
        return GenerationOutput(audio, self.decoder.sample_rate, padded, lengths)


def audio_argument(
    name: str, value: Any, sample_rate: int | None, codec: Codec, max_seconds: float
) -> audio_io.Audio:
    """One item's audio argument (path, tensor with ``sample_rate``, or tuple) in ``codec``'s
    rate and channels as ``[1, C, T]``, or an error naming ``name``: too short, too long,
    or a batch where one clip belongs."""
    clip = audio_io.load(
        value,
        audio_io.rate_of_samples(value, sample_rate),
        target_sample_rate=codec.sample_rate,
        channels=codec.channels,
        max_seconds=max_seconds,
    )
    if clip.duration < MIN_AUDIO_SECONDS:
        raise InvalidInputError(
            f"{name} is {clip.duration:.2f} s long; at least {MIN_AUDIO_SECONDS} s are needed."
        )
    if clip.samples.shape[0] != 1:
        raise InvalidInputError(
            f"{name} must be one clip per item, got a batch of {clip.samples.shape[0]}; "
            "pass a list for a batch."
        )
    return clip


def _check_names(spec: TaskSpec, given: dict[str, Any]) -> None:
    wanted = [c.name for c in spec.conditions]
    extra = sorted(set(given) - set(wanted))
    if extra:
        raise InvalidInputError(f"task {spec.name!r} does not take {extra}; it takes {wanted}.")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch device (None: the CPU), or an error if it is not usable here."""
    try:
        resolved = torch.device(device or "cpu")
    except (RuntimeError, TypeError) as err:
        raise InvalidInputError(f"device must be like 'cpu' or 'cuda:0', got {device!r}.") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"device {str(resolved)!r} was asked for, but torch sees no CUDA GPU here; use "
            "device='cpu' (or install a CUDA build of torch on a GPU machine)."
        )
    return resolved


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


SAMPLING_DEFAULTS = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "cfg_scale": None, "steps": None}


def refuse_sampling(name: str, takes: str, **options: Any) -> None:
    """For a deterministic model ``name``: an error for any sampling option given a value other
    than its default (:data:`SAMPLING_DEFAULTS`) or any other keyword; ``takes`` says what the
    model takes instead."""
    unknown = sorted(set(options) - set(SAMPLING_DEFAULTS))
    if unknown:
        raise InvalidInputError(f"{name} does not take {unknown}: {takes}.")
    given = sorted(k for k, v in options.items() if v != SAMPLING_DEFAULTS[k])
    if given:
        raise InvalidInputError(f"{name} is deterministic: {given} do not apply ({takes}).")


def shipped_models() -> list[str]:
    """Names of the generative models in ``tokgen/pretrained/``."""
    from tokgen.lm.checkpoint import KIND

    def is_model(folder: Path) -> bool:
        config = folder / "config.json"
        if (folder / INDEX_NAME).is_file():
            return True
        return config.is_file() and json.loads(config.read_text()).get("kind") in (
            KIND, *MODEL_KINDS)  # fmt: skip

    return [p.name for p in sorted(PRETRAINED_DIR.iterdir()) if p.is_dir() and is_model(p)]


def default_model(task: str | None = None) -> str:
    """The shipped model ``tokgen generate TASK`` and :func:`tokgen.generate` use for
    ``task`` when none is named (``tts``: the duration TTS, which speaks intelligibly)."""
    return TASK_DEFAULT_MODELS.get(task or "", DEFAULT_MODEL)


def _is_diffusion(path: Path) -> bool:
    """Whether ``path`` holds a diffusion pipeline (see :mod:`tokgen.diffusion.pipeline`)."""
    from tokgen.diffusion import PIPELINE_KIND as DIFFUSION_KIND

    index = path / INDEX_NAME
    return index.is_file() and hub.read_json_file(index).get("kind") == DIFFUSION_KIND


# config.json "kind" -> the module of a model that is neither an LM nor a diffusion pipeline;
# it has load_model(path, name) and model_info(path) -> ModelInfo
MODEL_KINDS = {
    "tokgen-duration-tts": "tokgen.tts",
    "tokgen-mask-separator": "tokgen.separation",
    "tokgen-texture-continuation": "tokgen.continuation",
}


def _kind_module(path: Path) -> Any:
    """The module of :data:`MODEL_KINDS` that loads the checkpoint in ``path``, or None."""
    import importlib

    config = path / hub.CONFIG_NAME
    kind = hub.read_json_file(config).get("kind") if config.is_file() else None
    return importlib.import_module(MODEL_KINDS[kind]) if kind in MODEL_KINDS else None


def load(
    name_or_path: str | os.PathLike = "tokgen-small",
    *,
    device: str | torch.device | None = None,
    decoder: str | dict[str, Any] | None = None,
) -> Any:
    """A shipped model by name (``tokgen-small``, ``tokgen-diffusion-small``), a model
    directory (an LM checkpoint, parts named by a ``model_index.json``, or a diffusion
    pipeline), or ``tokgen-lm-debug`` / ``tokgen-diffusion-debug`` (tiny random models on
    the debug codec, for tests). Every one has ``generate(task, ...)``. ``device`` (``"cuda"``, ``"cpu"``) is where the LM runs.
    ``decoder`` replaces the model's decoder: a registered name (``"codec"``: separation
    resynthesizes the source instead of masking the mixture) or ``{"type": name, ...}``."""
    from tokgen.codecs import load_codec

    options = {"type": decoder} if isinstance(decoder, str) else decoder
    if str(name_or_path) == DEBUG_DIFFUSION:
        from tokgen.diffusion import debug_diffusion

        return debug_diffusion()
    if str(name_or_path) == DEBUG_MODEL:
        lm, path, index = debug_lm(), Path(), {}
    else:
        path = model_dir(name_or_path)
        module = _kind_module(path)
        if module is not None:
            if decoder is not None:
                raise InvalidInputError(
                    f"{name_or_path} makes its own audio; it takes no decoder=."
                )
            return module.load_model(path, str(name_or_path))
        if _is_diffusion(path):
            from tokgen.diffusion import load_diffusion

            if decoder is not None:
                raise InvalidInputError(f"{name_or_path} decodes latents; it takes no decoder=.")
            return load_diffusion(path, str(name_or_path), device=device)
        index = _read_index(path) if (path / INDEX_NAME).is_file() else {}
        lm = load_lm(path / index["lm"] if index else path)
    codec = load_codec(lm.config.codec)
    chosen = build_decoder(options or index.get("decoder") or {}, path, codec)
    return TokgenModel(lm, codec, str(name_or_path), decoder=chosen, device=device)


def debug_lm() -> CodecLM:
    """The tiny random LM of ``tokgen-lm-debug`` (same weights every time)."""
    torch.manual_seed(0)
    return CodecLM(
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
            extra_markers=0,
        )
    )


def model_dir(name_or_path: str | os.PathLike) -> Path:
    """The directory of a model given by path or shipped name, or a clear error."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    shipped = PRETRAINED_DIR / str(name_or_path)
    if not shipped.is_dir():
        raise PretrainedNotFoundError(
            f"{name_or_path!r} is neither a directory nor a shipped model (shipped: "
            f"{shipped_models()}; {DEBUG_MODEL!r} is a tiny random one for tests). Train "
            "one with `tokgen train lm --config lm/tokgen_small.yaml` and load its "
            "run directory's model/."
        )
    return shipped


@dataclass(frozen=True)
class ModelInfo:
    """What a model does, read without its weights (for the CLI and the demo)."""

    tasks: dict[str, TaskSpec]
    max_duration: float  # seconds, the longest target it generates
    # generate()'s options besides the conditions (the CLI offers just these)
    options: tuple[str, ...] = ("duration", "temperature", "top_k", "top_p", "cfg_scale",
                                "steps", "seed")  # fmt: skip


def model_info(name_or_path: str | os.PathLike) -> ModelInfo:
    """The tasks and limits of a model, from its ``config.json`` alone."""
    from tokgen.lm.checkpoint import read_lm_info

    if str(name_or_path) == DEBUG_MODEL:  # the built-in tasks, at LMConfig's defaults
        config = LMConfig()
        return ModelInfo({t: builtin_task(t) for t in config.tasks}, config.max_duration)
    diffusion = _diffusion_config(name_or_path)
    if diffusion is not None:
        return ModelInfo({t: builtin_task(t) for t in diffusion.tasks}, diffusion.max_duration)
    path = model_dir(name_or_path)
    module = _kind_module(path)
    if module is not None:
        return module.model_info(path)
    if (path / INDEX_NAME).is_file():
        path = path / _read_index(path)["lm"]
    config, specs = read_lm_info(path)
    return ModelInfo(specs, config.max_duration)


def _diffusion_config(name_or_path: str | os.PathLike) -> Any:
    """A diffusion model's :class:`~tokgen.diffusion.DiffusionConfig`, read without its
    weights; None for an LM."""
    from tokgen.diffusion import debug_diffusion, read_diffusion_config

    if str(name_or_path) == DEBUG_DIFFUSION:
        return debug_diffusion().config
    path = model_dir(name_or_path)
    return read_diffusion_config(path) if _is_diffusion(path) else None


def write_model_index(
    path: str | os.PathLike, *, lm: str = "lm", decoder: dict[str, Any] | None = None
) -> Path:
    """Write ``model_index.json``: a model of parts, the LM in subfolder ``lm`` and the
    decoder ``{"type": name, ...options}`` (:data:`~tokgen.decoders.DEFAULT_DECODER` when
    None)."""
    index = {"kind": PIPELINE_KIND, "lm": lm, "decoder": decoder or {"type": DEFAULT_DECODER}}
    target = Path(path) / INDEX_NAME
    hub.atomic_write_text(target, json.dumps(index, indent=2) + "\n")
    return target


def _read_index(path: Path) -> dict[str, Any]:
    index = hub.read_json_file(path / INDEX_NAME)
    if index.get("kind") != PIPELINE_KIND or not isinstance(index.get("lm"), str):
        raise ConfigError(
            f"{path / INDEX_NAME} must hold kind {PIPELINE_KIND!r} and the LM's subfolder "
            "under 'lm' (see tokgen.pipeline.write_model_index)."
        )
    return index
