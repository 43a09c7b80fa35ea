"""The tokgen Gradio demo: every task of a model in one page, offline and bounded.

``build_demo(model=...)`` makes one tab per task of the model, built from the model's own
task specs (so a fine-tuned task gets a tab too), plus a codec tab. Each tab shows the
audio and its spectrogram, keeps sampling options in a closed panel, and has a stable
endpoint for programs (``/tts``, ``/tta``, ``/lass``, ``/continuation``, ``/codec``; the
first inputs are the task's conditions, every later one has a default). ``launch`` binds
to 127.0.0.1 unless told otherwise, queues one job at a time, caps uploads, sends no
analytics and loads nothing from another host. Anchor: audiocraft's
``demos/musicgen_app.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import atexit
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import torch

import tokgen
from tokgen import audio as audio_io
from tokgen.conditions import ConditionSpec
from tokgen.continuation import TextureContinuation
from tokgen.diffusion import DiffusionModel
from tokgen.errors import TokgenError
from tokgen.eval.spectrogram import save_spectrograms
from tokgen.pipeline import TokgenModel
from tokgen.separation import MaskSeparator
from tokgen.tasks import TaskSpec, condition_meaning, default_length
from tokgen.tts import DurationTTS

ASSETS = Path(tokgen.__file__).parent / "assets"
EXAMPLES = {  # task -> condition values from bundled assets
    "tts": {"text": "The weather is lovely today.", "prompt_audio": ASSETS / "sample_speech.wav"},
    "tta": {"text": "a dog barking"},
    "lass": {"text": "a vibraphone playing", "audio": ASSETS / "sample_mixture.wav"},
    "continuation": {"audio": ASSETS / "sample_speech.wav"},
}
TITLES = {
    "tts": "Text to speech",
    "tta": "Text to audio",
    "lass": "Separation",
    "continuation": "Continuation",
}
LOCAL_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]  # never Google Fonts
PROGRESS = gr.Progress(track_tqdm=True)  # generate()'s progress bar, shown in the page
Model = TokgenModel | DiffusionModel | DurationTTS | MaskSeparator | TextureContinuation


@dataclass(frozen=True)
class DemoLimits:
    """What a public host needs bounded."""

    max_upload_mb: int = 20
    queue_size: int = 16  # waiting jobs; one runs at a time
    cache_seconds: int = 3600  # generated files older than this are deleted


def build_demo(
    model: str | Model = "tokgen-small",
    *,
    codec: str | None = None,
    limits: DemoLimits | None = None,
) -> gr.Blocks:
    """The demo for ``model`` (a name, a directory or a loaded model: a codec LM or a
    diffusion model); ``codec`` names the codec tab's codec (default: the model's)."""
    model = model if isinstance(model, Model) else tokgen.load(model)
    limits = limits or DemoLimits()
    workdir = Path(tempfile.mkdtemp(prefix="tokgen-demo-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    age = limits.cache_seconds
    with gr.Blocks(title="tokgen", analytics_enabled=False, delete_cache=(age, age)) as demo:
        gr.Markdown(
            f"# tokgen\nModel **{model.name}** ({', '.join(model.tasks)}) on the codec "
            f"**{model.config.codec}**; the codec tab runs **{codec or model.config.codec}**. "
            f"Audio inputs up to {model.config.max_duration:g} s and {limits.max_upload_mb} MB; "
            "one job runs at a time."
        )
        for task in model.tasks:
            with gr.Tab(TITLES.get(task, task)):
                _task_tab(model, task, workdir)
        with gr.Tab("Codec"):
            _codec_tab(tokgen.load_codec(codec) if codec else model.codec, workdir, model)
    demo.queue(default_concurrency_limit=1, max_size=limits.queue_size)
    demo.tokgen_limits = limits  # read by launch()
    return demo


def launch(
    demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False, **kw: Any
) -> Any:
    """Serve ``demo`` on ``host:port`` (a public link only with ``share``)."""
    limits: DemoLimits = getattr(demo, "tokgen_limits", DemoLimits())
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=f"{limits.max_upload_mb}mb",
        theme=gr.themes.Default(font=LOCAL_FONTS, font_mono=["ui-monospace", "monospace"]),
        ssr_mode=False,
        show_error=False,  # only gr.Error messages reach the page, never a traceback
        **kw,
    )


# ---- tabs ---------------------------------------------------------------------------------
def _task_tab(model: Model, task: str, workdir: Path) -> None:
    spec = model.task(task)
    if spec.description:
        gr.Markdown(spec.description)
    with gr.Row():
        with gr.Column():
            inputs = [_condition_input(task, c, model) for c in spec.conditions]
            settings = _settings(model, spec)
            button = gr.Button("Generate", variant="primary")
        with gr.Column():
            audio = gr.Audio(label="result", type="filepath", interactive=False)
            picture = gr.Image(label="spectrogram", type="filepath", interactive=False)
    run = _task_runner(model, spec, workdir)
    button.click(run, [*inputs, *settings], [audio, picture], api_name=task)
    example = EXAMPLES.get(task)
    if example and set(example) <= {c.name for c in spec.conditions}:
        row = [example.get(c.name) for c in spec.conditions]
        gr.Examples([[str(v) if isinstance(v, Path) else v for v in row]], inputs)


def _condition_input(task: str, condition: ConditionSpec, model: Model) -> gr.components.Component:
    label = condition_meaning(task, condition) or condition.name
    if not condition.required:
        label += " (optional)"
    if condition.type == "audio":
        return gr.Audio(
            label=f"{label}: up to {model.config.max_duration:g} s",
            sources=["upload", "microphone"],
            type="filepath",
        )
    return gr.Textbox(label=label, lines=2, value="" if not condition.required else None)


def _settings(model: Model, spec: TaskSpec) -> list[gr.components.Component]:
    """Duration and the sampling options (the model's defaults), in a closed panel: an
    LM's temperature, top-k and top-p, a diffusion model's steps, or a duration TTS's speed;
    the texture continuation's duration and seed; none for the mask separator
    (deterministic, the mixture sets the length)."""
    if isinstance(model, MaskSeparator):
        return []
    eos = spec.target.length == "eos"
    with gr.Accordion("Settings", open=False):
        if isinstance(model, DurationTTS):  # deterministic; the text sets the duration
            return [gr.Slider(0.5, 2.0, value=1.0, step=0.05, label="speaking rate (1: flite's)")]
        duration = gr.Slider(
            0.0,
            model.config.max_duration,
            value=0.0,
            step=0.5,
            label=f"{'longest duration' if eos else 'duration'} in s (0: {default_length(spec)})",
        )
        if isinstance(model, TextureContinuation):  # the jumps are its only randomness
            return [duration, gr.Number(value=-1, precision=0, label="seed (-1: a random one)")]
        if isinstance(model, DiffusionModel):
            steps = gr.Slider(1, 50, value=model.config.steps, step=1, label="sampling steps")
            cfg = gr.Slider(
                0.0, 10.0, value=0.0, step=0.5, label="CFG scale (0: the model's default)"
            )
            seed = gr.Number(value=-1, precision=0, label="seed (-1: a random one)")
            return [duration, steps, cfg, seed]
        temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature (0: greedy)")
        top_k = gr.Slider(0, model.config.cardinality, value=0, step=1, label="top-k (0: off)")
        top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="top-p (1: off)")
        cfg = gr.Slider(0.0, 10.0, value=0.0, step=0.5, label="CFG scale (0: the model's default)")
        seed = gr.Number(value=-1, precision=0, label="seed (-1: a random one)")
    return [duration, temperature, top_k, top_p, cfg, seed]


def _task_runner(model: Model, spec: TaskSpec, workdir: Path):
    names = [c.name for c in spec.conditions]

    def run(*values: Any, progress: gr.Progress = PROGRESS) -> tuple[str, str]:
        conditions = {n: v for n, v in zip(names, values) if v not in (None, "")}
        missing = [c for c in spec.conditions if c.required and c.name not in conditions]
        if missing:
            what = condition_meaning(spec.name, missing[0]) or missing[0].name
            raise gr.Error(f"{what}: this input is needed; fill it in (or upload or record it).")
        try:
            out = model.generate(spec.name, **conditions, **_options(model, values[len(names) :]),
                                 progress=True)  # fmt: skip
            wav = out.audio[0, :, : out.lengths[0]]
            return _outputs(workdir, spec.name, wav, out.sample_rate)
        except TokgenError as err:
            raise _page_error(err, values) from None

    return run


def _options(model: Model, settings: tuple[Any, ...]) -> dict[str, Any]:
    """``generate()``'s keyword arguments from the Settings panel's values (``_settings``)."""
    if isinstance(model, MaskSeparator):
        return {}
    if isinstance(model, DurationTTS):
        return {"speed": settings[0]}
    if isinstance(model, TextureContinuation):
        duration, seed = settings
        return {"duration": duration or None, "seed": _seed(seed)}
    duration, *sampling, cfg, seed = settings
    if isinstance(model, DiffusionModel):
        options = {"steps": int(sampling[0])}
    else:
        temperature, top_k, top_p = sampling
        options = {"temperature": temperature, "top_k": int(top_k), "top_p": top_p}
    return {**options, "duration": duration or None, "cfg_scale": cfg or None, "seed": _seed(seed)}


def _seed(value: float | None) -> int | None:
    """The Settings panel's seed (-1 or empty: a random one)."""
    return None if value is None or value < 0 else int(value)


def _codec_tab(codec: Any, workdir: Path, model: Model) -> None:
    gr.Markdown(
        f"Audio -> {codec.num_codebooks} codebooks of {codec.cardinality} codes at "
        f"{codec.frame_rate:g} frames/s -> audio."
    )
    with gr.Row():
        with gr.Column():
            upload = gr.Audio(
                label=f"audio: up to {model.config.max_duration:g} s",
                sources=["upload", "microphone"],
                type="filepath",
            )
            books = gr.Slider(
                1, codec.num_codebooks, value=codec.num_codebooks, step=1, label="codebooks"
            )
            button = gr.Button("Encode and decode", variant="primary")
        with gr.Column():
            audio = gr.Audio(label="decoded", type="filepath", interactive=False)
            picture = gr.Image(label="spectrogram", type="filepath", interactive=False)
            info = gr.Markdown()

    def run(path: str | None, num_codebooks: float = codec.num_codebooks) -> tuple[str, str, str]:
        if not path:
            raise gr.Error("upload or record some audio first.")
        k = int(num_codebooks)
        try:
            clip = audio_io.load(
                path,
                target_sample_rate=codec.sample_rate,
                channels=codec.channels,
                max_seconds=model.config.max_duration,
            )
            codes = codec.encode(clip.samples, clip.sample_rate, num_codebooks=k)  # [1, k, F]
            wav = codec.decode(codes, length=clip.samples.shape[-1])[0]
            text = (
                f"{k} codebooks x {codes.shape[-1]} frames = {codes.numel()} tokens, "
                f"{codec.bandwidth_for(k):g} kbps"
            )
            return (*_outputs(workdir, "codec", wav, codec.sample_rate), text)
        except TokgenError as err:
            raise _page_error(err, [path]) from None

    button.click(run, [upload, books], [audio, picture, info], api_name="codec")
    gr.Examples([[str(ASSETS / "sample_speech.wav")]], [upload])


def _page_error(err: TokgenError, values: Any) -> gr.Error:
    """The error as the page shows it: uploads named as the user named them, and no
    server path (the app's folders, the temp folder) in the text."""
    message = str(err)
    for value in values:
        if isinstance(value, str) and os.sep in value:
            message = message.replace(value, Path(value).name)
    return gr.Error(message.replace(tempfile.gettempdir() + os.sep, ""))


def _outputs(workdir: Path, stem: str, wav: torch.Tensor, sample_rate: int) -> tuple[str, str]:
    """Write ``wav [C, T]`` and its spectrogram; return both paths. Gradio serves copies
    (cleaned by ``delete_cache``), so files here older than a minute are deleted."""
    for old in workdir.glob("*"):
        if time.time() - old.stat().st_mtime > 60:
            old.unlink(missing_ok=True)
    name = f"{stem}-{uuid.uuid4().hex[:8]}"
    path = audio_io.save(workdir / f"{name}.wav", wav, sample_rate)
    picture = save_spectrograms(workdir / f"{name}.png", [(stem, wav.mean(0))], sample_rate)
    return str(path), str(picture)
