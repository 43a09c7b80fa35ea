"""``tokgen.load("tokgen-diffusion-small").generate(...)``: captions -> codec latents -> audio.

The sampling loop is written out here (diffusers' ``StableAudioPipeline`` is the model):
noise per item from its own seed, the denoiser on ``[conditional; unconditional]`` halves
for classifier-free guidance, one diffusers scheduler step per step, and the codec's
``decode_latent`` at the end. Continuation is inpainting: the prompt's frames are held at
the current noise level while the rest is sampled.

A checkpoint folder (diffusers' layout, named by ``model_index.json``)::

    model_index.json        {"kind": "tokgen-diffusion-pipeline", "transformer": ..., "scheduler": ...}
    transformer/            config.json (DiffusionConfig) + model.safetensors (incl. latent statistics)
    scheduler/              scheduler_config.json (diffusers)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from tokgen import hub
from tokgen.checks import integer, number
from tokgen.codecs import Codec
from tokgen.conditions.embedding import check_caption
from tokgen.diffusion.config import DiffusionConfig
from tokgen.diffusion.model import Conditioning, LatentDiT, caption_batch
from tokgen.diffusion.objective import (
    make_scheduler,
    model_time,
    noised_known,
    scaled_input,
    start_noise,
)
from tokgen.errors import ConfigError, InvalidInputError
from tokgen.lm.sampling import MAX_CFG_SCALE, generators_for
from tokgen.pipeline import (
    INDEX_NAME,
    GenerationOutput,
    _batch_size,
    _pick,
    audio_argument,
    resolve_device,
)
from tokgen.tasks import DEFAULT_DURATION, TaskSpec, builtin_task

PIPELINE_KIND = "tokgen-diffusion-pipeline"
TRANSFORMER_DIR = "transformer"
SCHEDULER_DIR = "scheduler"
MAX_STEPS = 1000
MIN_DURATION = 0.2  # seconds
PROMPT_SECONDS = 2.0  # continuation holds at most this much of the prompt's end


class DiffusionModel:
    """A latent DiT with its codec; :meth:`generate` has the LM models' signature."""

    def __init__(
        self,
        dit: LatentDiT,
        codec: Codec,
        name: str = "model",
        *,
        device: Any = None,
        scheduler_config: dict[str, Any] | None = None,
    ) -> None:
        """``scheduler_config``: a diffusers scheduler's config (``scheduler/`` of a pipeline
        folder) to sample with; None: the objective's default (:func:`make_scheduler`)."""
        config = dit.config
        if codec.name != config.codec or codec.latent_dim != config.latent_dim:
            raise InvalidInputError(
                f"{name} models {config.codec!r} latents of {config.latent_dim} channels; got "
                f"codec {codec.name!r} with {codec.latent_dim}."
            )
        self.device = resolve_device(device)
        self.dit = dit.eval().to(self.device)
        self.codec = codec
        self.name = name
        self.scheduler_config = scheduler_config

    @property
    def config(self) -> DiffusionConfig:
        return self.dit.config

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def tasks(self) -> list[str]:
        return list(self.config.tasks)

    def task(self, name: str) -> TaskSpec:
        if name not in self.config.tasks:
            raise InvalidInputError(
                f"{self.name} does {self.config.tasks}, not {name!r} (the LM, tokgen-small, "
                "does tts and lass)."
            )
        return builtin_task(name)

    @torch.inference_mode()
    def generate(
        self,
        task: str,
        text: str | list[str] | None = None,
        *,
        audio: Any = None,
        duration: float | list[float] | None = None,
        sample_rate: int | None = None,
        cfg_scale: float | None = None,
        steps: int | None = None,
        seed: int | list[int] | None = None,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        progress: bool = False,
        **conditions: Any,
    ) -> GenerationOutput:
        """``tta`` (``text``: a caption) or ``continuation`` (``audio``, optional ``text``).

        ``duration`` (seconds, default 4; one per item or shared), ``steps`` (default
        ``config.steps``), ``cfg_scale`` (default ``config.cfg_scale``; 1: unguided) and
        ``seed`` (item ``i`` uses ``seed + i``, so a batch equals its items one by one)
        are per call. ``temperature``, ``top_k`` and ``top_p`` are the LM's and must stay
        at their defaults here. Returns a :class:`tokgen.pipeline.GenerationOutput` whose
        ``codes`` are the generated latents quantized by the codec.
        """
        spec = self.task(task)
        if conditions:
            raise InvalidInputError(
                f"task {task!r} does not take {sorted(conditions)}; it takes "
                f"{[c.name for c in spec.conditions]}."
            )
        if (temperature, top_k, top_p) != (1.0, 0, 1.0):
            raise InvalidInputError(
                f"{self.name} samples by diffusion: temperature, top_k and top_p do not apply; "
                "use steps, cfg_scale and seed."
            )
        steps = integer("steps", self.config.steps if steps is None else steps, low=1,
                        high=MAX_STEPS)  # fmt: skip
        scale = self.config.cfg_scale if cfg_scale is None else cfg_scale
        scale = number("cfg_scale", scale, low=0, high=MAX_CFG_SCALE)
        if task == "tta" and text is None:
            raise InvalidInputError("task 'tta' needs text= (a description of the sound).")
        if task == "continuation" and audio is None:
            raise InvalidInputError("task 'continuation' needs audio= (the audio to continue).")
        batch = _batch_size({"text": text, "audio": audio, "duration": duration})
        generators = generators_for(seed, batch)
        prompts = [self._prompt(_pick(audio, i), sample_rate) for i in range(batch)]
        frames = []
        for i in range(batch):
            room = self.config.max_duration - prompts[i].shape[-1] / self.config.frame_rate
            seconds = self._duration(_pick(duration, i), room)
            frames.append(max(1, round(seconds * self.config.frame_rate)))
        captions = [_pick(text, i) for i in range(batch)]
        cond = self._conditioning(captions, [p.shape[-1] + f for p, f in zip(prompts, frames)])
        guided = scale != 1.0 and any(c is not None for c in captions)
        x = self._sample(cond, prompts, frames, generators, steps, scale if guided else 1.0,
                         progress)  # fmt: skip
        latents = [
            self.dit.denormalize(x[i : i + 1, :, p.shape[-1] : p.shape[-1] + f])
            for i, (p, f) in enumerate(zip(prompts, frames))
        ]  # [1, D, F_i] each
        hop = self.codec.hop_length
        longest = max(frames)
        out = torch.zeros(batch, self.codec.channels, longest * hop)
        codes = torch.full((batch, self.codec.num_codebooks, longest), -1, dtype=torch.long)
        stacked = torch.zeros(batch, self.config.latent_dim, longest)
        for i, latent in enumerate(latents):
            latent = latent.float().cpu()
            stacked[i, :, : frames[i]] = latent[0]
            out[i, :, : frames[i] * hop] = self.codec.decode_latent(latent)[0]
            codes[i, :, : frames[i]] = self.codec.quantize_latent(latent)[0].cpu()
        lengths = [f * hop for f in frames]
        return GenerationOutput(out, self.codec.sample_rate, codes, lengths, stacked)

    def reconstruct(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Mono ``wav [T]`` through the codec's continuous latent and the span of what the
        DiT can output (:meth:`LatentDiT.output_basis`), and back: what a perfect model of
        this size could give. ``[T]``."""
        x = self.dit.normalize(self.codec.encode_latent(wav, sample_rate).to(self.device))
        x = x - self.dit.off_span(x, self.dit.output_basis())
        latent = self.dit.denormalize(x).float().cpu()
        return self.codec.decode_latent(latent, length=wav.shape[-1])[0, 0]

    # ---- pieces ----------------------------------------------------------------------
    def _duration(self, value: Any, room: float) -> float:
        seconds = DEFAULT_DURATION if value is None else value
        if room < MIN_DURATION:
            raise InvalidInputError(
                f"the prompt leaves no room within {self.config.max_duration:g} s."
            )
        high = min(room, self.config.max_duration)
        try:
            return number("duration", seconds, low=MIN_DURATION, high=high)
        except InvalidInputError as err:
            raise InvalidInputError(
                f"duration must be between {MIN_DURATION:g} and {high:g} seconds (this model "
                f"makes at most {self.config.max_duration:g} s, prompt included), got {value!r}."
            ) from err

    def _prompt(self, value: Any, sample_rate: int | None) -> torch.Tensor:
        """Continuation's prompt as normalised latent frames ``[D, P]`` (P = 0 without one)."""
        if value is None:
            return torch.zeros(self.config.latent_dim, 0)
        clip = audio_argument("audio", value, sample_rate, self.codec, self.config.max_duration)
        keep = round(PROMPT_SECONDS * self.codec.sample_rate)
        latent = self.codec.encode_latent(clip.samples[:, :, -keep:], clip.sample_rate)
        return self.dit.normalize(latent.to(self.device))[0].cpu()  # [D, P]

    def _conditioning(self, captions: list[str | None], frames: list[int]) -> Conditioning:
        from tokgen.text import caption_encoder

        for caption in captions:
            if caption is not None:
                check_caption("text", caption)
        given = [c for c in captions if c is not None]
        encoded = dict(zip(given, caption_encoder().encode_tokens(given))) if given else {}
        states, mask = caption_batch(
            [encoded.get(c) if c is not None else None for c in captions],
            self.config.caption_dim,
            self.config.max_caption_tokens,
        )
        seconds = torch.tensor(frames, dtype=torch.float32) / self.config.frame_rate
        return Conditioning(states, mask, seconds).to(self.device)

    def _sample(
        self,
        cond: Conditioning,
        prompts: list[torch.Tensor],
        frames: list[int],
        generators: list[torch.Generator],
        steps: int,
        scale: float,
        progress: bool,
    ) -> torch.Tensor:
        """The denoising loop: normalised latents ``[B, D, P + F]`` (padded to the longest)."""
        dim = self.config.latent_dim
        totals = [p.shape[-1] + f for p, f in zip(prompts, frames)]
        longest = max(totals)
        noise = torch.zeros(len(totals), dim, longest)
        known = torch.zeros(len(totals), dim, longest)
        known_mask = torch.zeros(len(totals), 1, longest, dtype=torch.bool)
        frame_mask = torch.zeros(len(totals), longest, dtype=torch.bool)
        for i, (prompt, total, g) in enumerate(zip(prompts, totals, generators)):
            noise[i, :, :total] = torch.randn(dim, total, generator=g)  # the item's own draw
            known[i, :, : prompt.shape[-1]] = prompt
            known_mask[i, :, : prompt.shape[-1]] = True
            frame_mask[i, :total] = True
        noise, known, known_mask, frame_mask = (
            t.to(self.device) for t in (noise, known, known_mask, frame_mask)
        )
        scheduler = self._scheduler()
        scheduler.set_timesteps(steps, device=self.device)
        x = start_noise(scheduler, noise)
        both = Conditioning.cat([cond, cond.dropped()]) if scale != 1.0 else cond
        mask2 = torch.cat([frame_mask, frame_mask]) if scale != 1.0 else frame_mask
        basis = self.dit.output_basis()  # [D*p, r]: where predictions can lie
        for t in tqdm(scheduler.timesteps, desc="diffusion", disable=not progress):
            if known_mask.any():
                held = noised_known(scheduler, self.config, known, noise, t)
                x = torch.where(known_mask, held, x)
            inputs = scaled_input(scheduler, x, t)
            time = torch.full((len(totals),), model_time(self.config, t), device=self.device)
            if scale != 1.0:
                out = self.dit(torch.cat([inputs, inputs]), torch.cat([time, time]), both, mask2)
                conditional, unconditional = out.chunk(2)
                out = unconditional + scale * (conditional - unconditional)
            else:
                out = self.dit(inputs, time, cond, frame_mask)
            x = scheduler.step(out, t, x).prev_sample * frame_mask[:, None]  # padding stays 0
        # the start noise off the span is never predicted, so never removed: drop it (the
        # data mean there); removing it each step instead scored the same (issue 14 note)
        x = x - self.dit.off_span(x, basis)
        return torch.where(known_mask, known, x) * frame_mask[:, None]

    def _scheduler(self) -> Any:
        """A fresh scheduler (they keep state) from ``scheduler_config`` or the objective."""
        if self.scheduler_config is None:
            return make_scheduler(self.config)
        import diffusers

        name = self.scheduler_config.get("_class_name", "")
        cls = getattr(diffusers, name, None) if name.endswith("Scheduler") else None
        if cls is None:
            raise ConfigError(
                f"{self.name}: scheduler {name!r} is not a diffusers scheduler; name one of "
                f"the {self.config.objective!r} objective's family in scheduler_config.json."
            )
        return cls.from_config(self.scheduler_config)

    # ---- checkpoints -----------------------------------------------------------------
    def save_pretrained(self, path: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write the pipeline folder (see the module docstring)."""
        return save_diffusion(self.dit, path, dtype=dtype)


def save_diffusion(
    dit: LatentDiT, path: str | os.PathLike, *, dtype: torch.dtype | None = None
) -> Path:
    """``model_index.json``, ``transformer/`` and ``scheduler/`` under ``path``."""
    import dataclasses

    path = Path(path)
    config = dataclasses.asdict(dit.config)
    hub.save_checkpoint(path / TRANSFORMER_DIR, config, dit.state_dict(), dtype=dtype)
    make_scheduler(dit.config).save_config(str(path / SCHEDULER_DIR))
    index = {"kind": PIPELINE_KIND, "transformer": TRANSFORMER_DIR, "scheduler": SCHEDULER_DIR,
             "codec": dit.config.codec}  # fmt: skip
    hub.atomic_write_text(path / INDEX_NAME, json.dumps(index, indent=2) + "\n")
    return path


def read_diffusion_config(path: str | os.PathLike) -> DiffusionConfig:
    """The :class:`DiffusionConfig` of a pipeline folder (no weights read)."""
    raw = hub.read_config(Path(path) / TRANSFORMER_DIR)
    return hub.config_from_dict(DiffusionConfig, raw, source=f"{path}/{TRANSFORMER_DIR}")


def load_dit(path: str | os.PathLike) -> LatentDiT:
    """The denoiser of a pipeline folder, weights loaded (float32)."""
    config = read_diffusion_config(path)
    _, state = hub.load_checkpoint(Path(path) / TRANSFORMER_DIR)
    dit = LatentDiT(config)
    missing, unexpected = dit.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"{path}: weights do not fit the config ({missing[:3]}, {unexpected[:3]})."
        )
    return dit.eval()


def load_diffusion(
    path: str | os.PathLike, name: str | None = None, *, device: Any = None
) -> DiffusionModel:
    """A :class:`DiffusionModel` from a pipeline folder, with its codec and the scheduler
    its ``scheduler/`` names (edit that file to sample with another one of the objective's
    family, e.g. ``FlowMatchHeunDiscreteScheduler`` for flow matching)."""
    from tokgen.codecs import load_codec

    dit = load_dit(path)
    schedule = Path(path) / SCHEDULER_DIR / "scheduler_config.json"
    config = hub.read_json_file(schedule) if schedule.is_file() else None
    codec = load_codec(dit.config.codec)
    return DiffusionModel(dit, codec, name or str(path), device=device, scheduler_config=config)


def debug_diffusion() -> DiffusionModel:
    """``tokgen-diffusion-debug``: a tiny random denoiser on the debug codec, for tests."""
    from tokgen.codecs import load_codec

    codec = load_codec("tokgen-codec-debug")
    torch.manual_seed(0)
    config = DiffusionConfig(
        codec=codec.name, latent_dim=codec.latent_dim, frame_rate=codec.frame_rate,
        width=32, heads=2, layers=1, max_duration=6.0, steps=4,
    )  # fmt: skip
    return DiffusionModel(LatentDiT(config), codec, "tokgen-diffusion-debug")
