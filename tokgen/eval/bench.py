"""Speed, measured side by side in one interleaved run: codecs (encode and decode), F0
trackers inside the parametric codec, and TTS generation (LM alone with and without the KV
cache, batching, decoding, generate() end to end, a busy core, the bandwidth bound)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from tokgen.codecs import Codec, load_codec

if TYPE_CHECKING:
    from tokgen.pipeline import TokgenModel


@dataclass
class CodecSpeed:
    """Speed of one codec; ``*_speedup`` = audio seconds processed per wall-clock second."""

    codec: str
    seconds: float  # audio length per item
    batch: int
    encode_s: float  # median wall time of one encode
    decode_s: float  # median wall time of one decode
    encode_speedup: float  # x faster than real time (batch * seconds / encode_s)
    decode_speedup: float
    speedup: float  # encode + decode
    relative: float  # speedup / speedup of the first codec benchmarked


def speech_clip(seconds: float, sample_rate: int) -> torch.Tensor:
    """The bundled speech sample repeated to ``seconds``: ``[1, 1, T]`` at ``sample_rate``.

    A parametric codec's cost depends on what it hears (voicing, pitch), so speed is
    measured on speech rather than noise.
    """
    from tokgen import audio as audio_io

    clip = audio_io.load(audio_io.SAMPLE_SPEECH, target_sample_rate=sample_rate, channels=1).samples
    length = round(seconds * sample_rate)
    return clip.repeat(1, 1, -(-length // clip.shape[-1]))[..., :length]


def _load_for_speed(name: str, pretrained: bool) -> tuple[Codec, str]:
    """The codec, falling back to random weights (speed is the same) where none are here."""
    from tokgen.errors import PretrainedNotFoundError

    if pretrained:
        try:
            return load_codec(name), name
        except PretrainedNotFoundError:
            pass
    return load_codec(name, pretrained=False), f"{name} (random init)"


def bench_codecs(
    names: list[str],
    *,
    seconds: float = 10.0,
    batch: int = 1,
    repeats: int = 5,
    pretrained: bool = True,
) -> list[CodecSpeed]:
    """Time encode and decode of ``seconds`` of speech for each codec, rounds interleaved.

    Interleaving (A, B, A, B, ...) exposes all codecs to the same machine load, so the
    ratios are meaningful on a noisy machine. Codecs whose weights are not here (official
    EnCodec/DAC offline) are timed with random weights, which is what speed depends on.
    """
    loaded = [_load_for_speed(name, pretrained) for name in names]
    codecs = [codec for codec, _ in loaded]
    inputs = [speech_clip(seconds, c.sample_rate).repeat(batch, c.channels, 1) for c in codecs]
    for codec, wav in zip(codecs, inputs):  # warm-up
        codec.decode(codec.encode(wav, codec.sample_rate))
    times: list[list[tuple[float, float]]] = [[] for _ in codecs]
    for _ in range(repeats):
        for i, (codec, wav) in enumerate(zip(codecs, inputs)):
            start = time.perf_counter()
            codes = codec.encode(wav, codec.sample_rate)
            middle = time.perf_counter()
            codec.decode(codes, length=wav.shape[-1])
            times[i].append((middle - start, time.perf_counter() - middle))
    results = []
    audio = batch * seconds
    for (_, label), spent in zip(loaded, times):
        enc = statistics.median(t[0] for t in spent)
        dec = statistics.median(t[1] for t in spent)
        both = statistics.median(t[0] + t[1] for t in spent)
        results.append(
            CodecSpeed(label, seconds, batch, enc, dec, audio / enc, audio / dec, audio / both, 1.0)
        )
    for result in results:
        result.relative = result.speedup / results[0].speedup
    return results


def format_table(results: list[CodecSpeed]) -> str:
    """Markdown table of :func:`bench_codecs` results."""
    lines = [
        "| codec | audio | batch | encode s | decode s | encode x realtime | decode x realtime "
        "| both x realtime | relative |",
        "| :-- | --: | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for r in results:
        lines.append(
            f"| {r.codec} | {r.seconds:g} s | {r.batch} | {r.encode_s:.3f} | {r.decode_s:.3f} "
            f"| {r.encode_speedup:.1f} | {r.decode_speedup:.1f} | {r.speedup:.1f} "
            f"| {r.relative:.2f} |"
        )
    return "\n".join(lines)


@dataclass
class LMSpeed:
    """One TTS generation setting: ``speedup`` = generated audio seconds per wall second."""

    setting: str
    batch: int
    median_s: float
    speedup: float
    relative: float  # speedup / the first setting's


@dataclass
class TTSBench:
    """``tokgen bench tts``: the settings side by side, and the memory-bandwidth bound of
    the AR loop (each step reads the AR weights once; nothing else is counted)."""

    rows: list[LMSpeed]
    seconds: float
    ar_weight_mb: float  # AR transformer + head, as stored (fp32)
    bandwidth_gbs: float  # measured: a large tensor copy, bytes read + written per second
    bound_speedup: float  # x realtime at batch 1 if a step cost only reading the AR weights


def memory_bandwidth(megabytes: int = 256, repeats: int = 5) -> float:
    """GB/s of a large tensor copy (read + write), the best of ``repeats``."""
    src = torch.ones(megabytes * 2**20 // 4)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * 4 / best / 1e9


def _busy_core(stop: object) -> None:  # a process that keeps one core busy
    while not stop.is_set():  # type: ignore[attr-defined]
        sum(i * i for i in range(10_000))


def bench_tts(
    model: TokgenModel,
    *,
    seconds: float = 3.0,
    repeats: int = 3,
    batch: int = 8,
    busy: bool = False,
) -> TTSBench:
    """Time TTS of a ``seconds``-long target side by side, in interleaved rounds: the LM
    alone (AR + NAR) with the KV cache, without it, and at ``batch`` items; the LM plus the
    codec's decoding; and ``generate()`` end to end (prompt encoding, text front end, LM,
    decoding) on the bundled speech clip. With ``busy``, the batch-1 rows are timed again
    while another process keeps one core busy.

    The LM rows hold the end token back so every run makes exactly ``seconds`` of audio;
    ``generate()`` may end earlier, and its speed counts the audio it made.
    """
    from tokgen import audio as audio_io
    from tokgen.lm.generate import Budget, generate_codes
    from tokgen.lm.sampling import generators_for

    config = model.config
    frames = round(seconds * config.frame_rate)
    sentence = "The quick brown fox jumps over the lazy dog."
    clip = audio_io.load(audio_io.SAMPLE_SPEECH, duration=3.0)
    prompt = model.codec.encode(clip.samples, clip.sample_rate)[0, : config.num_codebooks]
    prefix = model.prefix(model.task("tts"), {"text": model.frontend.encode(sentence),
                                              "prompt_audio": prompt})  # fmt: skip
    budget = Budget(frames, stop_at_eos=True, min_frames=frames)

    def lm(n: int, cache: bool = True) -> float:
        codes = generate_codes(
            model.lm, [prefix] * n, [budget] * n, generators_for(0, n), use_cache=cache
        )
        return n * seconds if codes else 0.0

    def lm_and_decode() -> float:
        codes = generate_codes(model.lm, [prefix], [budget], generators_for(0, 1))
        model.codec.decode(torch.stack(codes))
        return seconds

    def end_to_end() -> float:
        out = model.generate("tts", sentence, prompt_audio=(clip.samples[0], clip.sample_rate),
                             duration=seconds, seed=0, cfg_scale=1.0)  # fmt: skip
        return out.lengths[0] / out.sample_rate

    settings = [
        ("LM, kv cache, batch 1", 1, lambda: lm(1)),
        ("LM, no cache, batch 1", 1, lambda: lm(1, cache=False)),
        (f"LM, kv cache, batch {batch}", batch, lambda: lm(batch)),
        ("LM + decode, batch 1", 1, lm_and_decode),
        ("generate(), batch 1", 1, end_to_end),
    ]
    busy_settings = [(f"{name}, one core busy", n, run) for name, n, run in settings
                     if name in ("LM, kv cache, batch 1", "generate(), batch 1")] if busy else []  # fmt: skip
    end_to_end()  # warm-up (loads what generate() loads once)
    rows = time_rounds(settings, busy_settings, repeats, reference=settings[0][0])
    ar_bytes = sum(
        p.numel() * p.element_size()
        for part in (model.lm.ar, model.lm.ar_head)
        for p in part.parameters()
    )
    bandwidth = memory_bandwidth()
    bound = bandwidth * 1e9 / ar_bytes / config.frame_rate
    return TTSBench(rows, seconds, ar_bytes / 2**20, bandwidth, bound)


def bench_duration_tts(
    model: Any,
    *,
    repeats: int = 3,
    batch: int = 8,
    busy: bool = False,
    compare: TokgenModel | None = None,
) -> list[LMSpeed]:
    """Time a duration TTS (:class:`tokgen.tts.DurationTTS`) speaking one sentence in the
    bundled voice, in interleaved rounds: each piece of ``generate()`` (flite; the prompt's
    WORLD analysis; the network, or with ``acoustics: flite`` the analysis of flite's rendering
    and the voice conversion; WORLD decoding with the codes), ``generate()`` at batch 1 and
    ``batch``, and, side by side, ``compare``'s (an LM's) ``generate()`` of the same sentence.
    With ``busy``, the batch-1 ``generate()`` rows again while another process keeps one core
    busy. Speeds count the audio each setting makes."""
    from tokgen import audio as audio_io
    from tokgen.text.phones import SAMPLE_RATE, flite_phones, flite_speak
    from tokgen.tts.pipeline import convert_voice

    sentence = "The quick brown fox jumps over the lazy dog."
    clip = audio_io.load(audio_io.SAMPLE_SPEECH, duration=3.0)
    prompt = (clip.samples[0], clip.sample_rate)
    prompt_latent = model.prompt_latent(prompt)
    if model.acoustics == "flite":
        wav = torch.from_numpy(flite_speak(sentence)[1])[None, None]
        source = model.codec.encode_latent(wav, SAMPLE_RATE).float()  # [1, D, F]
        latent = convert_voice(source, prompt_latent, model.net)
        seconds = latent.shape[-1] / model.config.frame_rate
        front = ("flite phones + rendering", lambda: (flite_speak(sentence), seconds)[1])
        middle = [
            ("WORLD analysis of flite's rendering",
             lambda: (model.codec.encode_latent(wav, SAMPLE_RATE), seconds)[1]),
            ("voice conversion", lambda: (convert_voice(source, prompt_latent, model.net),
                                          seconds)[1]),
        ]  # fmt: skip
    else:
        phones = flite_phones(sentence)
        durations = torch.tensor([phones.frame_durations(model.config.frame_rate)])
        ids = torch.tensor([phones.ids])
        frames = int(durations.sum())
        seconds = frames / model.config.frame_rate
        voice = model.net.voice(prompt_latent)  # [1, 2D]
        latent = model.net.denormalize(model.net(ids, durations, voice, frames)).float()

        def network() -> float:
            with torch.inference_mode():
                model.net(ids, durations, voice, frames)
            return seconds

        front = ("flite phones", lambda: (flite_phones(sentence), seconds)[1])
        middle = [("network", network)]

    def decode() -> float:
        model.codec.decode_latent(latent)
        model.codec.quantize_latent(latent)
        return seconds

    def speak(n: int, who: Any = model, **options: Any) -> Callable[[], float]:
        def run() -> float:
            out = who.generate("tts", [sentence] * n, prompt_audio=[prompt] * n, **options)
            return sum(out.lengths) / out.sample_rate

        return run

    settings = [
        (front[0], 1, front[1]),
        ("WORLD analysis of a 3 s prompt", 1, lambda: (model.prompt_latent(prompt), seconds)[1]),
        *((name, 1, run) for name, run in middle),
        ("WORLD decoding + codes", 1, decode),
        ("generate(), batch 1", 1, speak(1)),
        (f"generate(), batch {batch}", batch, speak(batch)),
    ]
    if compare is not None:
        settings.append((f"{compare.name} generate(), batch 1", 1,
                         speak(1, compare, seed=0, cfg_scale=1.0)))  # fmt: skip
    chosen = [row for row in settings if row[0].endswith("generate(), batch 1")] if busy else []
    busy_settings = [(f"{name}, one core busy", n, run) for name, n, run in chosen]
    for _, _, run in settings:
        run()  # warm-up
    return time_rounds(settings, busy_settings, repeats, reference="generate(), batch 1")


Setting = tuple[str, int, Callable[[], float]]  # name, batch, run -> audio seconds made


def time_rounds(
    settings: list[Setting], busy_settings: list[Setting], repeats: int, reference: str
) -> list[LMSpeed]:
    """Median time of each setting over ``repeats`` interleaved rounds (``busy_settings``
    while another process keeps one core busy); ``relative`` to setting ``reference``."""
    import multiprocessing

    spent: dict[str, list[float]] = {name: [] for name, _, _ in settings + busy_settings}
    made: dict[str, float] = {}

    def time_round(group: list[Setting]) -> None:
        for name, _, run in group:
            start = time.perf_counter()
            made[name] = run()
            spent[name].append(time.perf_counter() - start)

    for _ in range(repeats):
        time_round(settings)
        if busy_settings:
            stop = multiprocessing.Event()
            worker = multiprocessing.Process(target=_busy_core, args=(stop,), daemon=True)
            worker.start()
            time.sleep(0.2)
            time_round(busy_settings)
            stop.set()
            worker.join()
    rows = []
    for name, n, _ in settings + busy_settings:
        median = statistics.median(spent[name])
        rows.append(LMSpeed(name, n, median, made[name] / median, 1.0))
    base = next(r.speedup for r in rows if r.setting == reference)
    for row in rows:
        row.relative = row.speedup / base
    return rows


def format_speed_rows(rows: list[LMSpeed], title: str) -> str:
    lines = [
        title,
        "",
        "| setting | median s | x realtime | relative |",
        "| :-- | --: | --: | --: |",
    ]
    lines += [
        f"| {r.setting} | {r.median_s:.3f} | {r.speedup:.2f} | {r.relative:.2f} |" for r in rows
    ]
    return "\n".join(lines)


def from_recipe(recipe: str | os.PathLike) -> TokgenModel:
    """A randomly initialised model with the sizes of an LM recipe, on a random-init codec
    of its architecture (for speed measurements; nothing is loaded)."""
    from tokgen.lm.model import CodecLM
    from tokgen.pipeline import TokgenModel
    from tokgen.training.config import load_lm_train_config

    config = load_lm_train_config(recipe)
    lm = CodecLM(config.lm_config(text_vocab=config.text_vocab()))
    return TokgenModel(lm, load_codec(lm.config.codec, pretrained=False), f"random {recipe}")


def format_lm_table(bench: TTSBench) -> str:
    title = f"TTS of {bench.seconds:g} s of audio, medians of interleaved rounds"
    lines = [
        format_speed_rows(bench.rows, title),
        "",
        f"Bound: the AR weights ({bench.ar_weight_mb:.1f} MiB) read once per 20 ms frame at "
        f"the measured copy bandwidth ({bench.bandwidth_gbs:.1f} GB/s) allow "
        f"{bench.bound_speedup:.0f}x realtime at batch 1.",
    ]
    return "\n".join(lines)


@dataclass
class TrackerScores:
    """One F0 tracker inside the parametric codec's analysis, unquantized."""

    tracker: str
    f0_speedup: float  # audio seconds per wall second, F0 tracking alone
    analysis_speedup: float  # the whole WORLD analysis (F0, envelope, aperiodicity)
    pesq_wb: float  # of WORLD synthesis from the unquantized 20 ms parameters
    stoi: float


def bench_f0_trackers(
    manifest: str,
    *,
    limit: int = 20,
    trackers: tuple[str, ...] = ("dio-praat", "dio", "dio-plain", "harvest"),
) -> list[TrackerScores]:
    """Speed and quality of F0 trackers on the first ``limit`` flite/festival speech rows.

    Each clip is analysed with each tracker (one core, interleaved), resynthesized from the
    unquantized parameters, and scored against the original.
    """
    import numpy as np

    from tokgen.codecs.parametric_codec import ParametricConfig
    from tokgen.codecs.world_vocoder import analyze, synthesize, track_f0
    from tokgen.eval import metrics
    from tokgen.eval.codec_eval import read_items
    from tokgen.eval.judge import load_mono

    config = ParametricConfig()
    settings = config.world
    items = [i for i in read_items(manifest) if i.judged_by_asr][:limit]
    if not items:
        from tokgen.errors import InvalidInputError

        raise InvalidInputError(f"{manifest} has no flite/festival speech rows to time F0 on.")
    spent = {name: [0.0, 0.0] for name in trackers}
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in trackers}
    total = 0.0
    for item in items:
        clip = load_mono(item.path, settings.sample_rate)
        x = clip.double().numpy()
        frames = -(-len(x) // config.hop_length)
        total += len(x) / settings.sample_rate
        for name in trackers:
            start = time.perf_counter()
            track_f0(x, settings, name)
            middle = time.perf_counter()
            params = analyze(x, frames, settings, tracker=name)
            spent[name][0] += middle - start
            spent[name][1] += time.perf_counter() - middle
            y = torch.from_numpy(synthesize(params, settings)[: len(x)].astype(np.float32))
            rate = settings.sample_rate
            scores[name].append((metrics.pesq_wb(clip, y, rate), metrics.stoi(clip, y, rate)))
    results = []
    for name in trackers:
        pesq = [p for p, _ in scores[name] if p == p]
        stoi = [s for _, s in scores[name] if s == s]
        results.append(
            TrackerScores(
                name,
                total / spent[name][0],
                total / spent[name][1],
                statistics.fmean(pesq) if pesq else float("nan"),
                statistics.fmean(stoi) if stoi else float("nan"),
            )
        )
    return results


def format_tracker_table(results: list[TrackerScores], items: int) -> str:
    lines = [
        f"F0 trackers in the parametric codec's analysis ({items} flite/festival clips, "
        "unquantized, 20 ms parameters synthesized at 5 ms)",
        "",
        "| tracker | F0 x realtime | whole analysis x realtime | PESQ-WB | STOI |",
        "| :-- | --: | --: | --: | --: |",
    ]
    for r in results:
        lines.append(
            f"| {r.tracker} | {r.f0_speedup:.1f} | {r.analysis_speedup:.1f} "
            f"| {r.pesq_wb:.2f} | {r.stoi:.3f} |"
        )
    return "\n".join(lines)


@dataclass
class DiffusionSpeed:
    """One step count of a diffusion model: median wall time of ``generate()`` at batch 1."""

    steps: int
    seconds: float  # audio generated
    wall_s: float  # generate() end to end: caption, denoising, codec decoding
    speedup: float  # seconds / wall_s (x real time)


def bench_diffusion(
    model: object, *, seconds: float = 4.0, steps: list[int], repeats: int = 3
) -> list[DiffusionSpeed]:
    """Time ``model.generate("tta", ...)`` of ``seconds`` of audio for each step count,
    interleaved over ``repeats`` rounds (after one warm-up call), same caption and seed."""
    caption = "a bird chirps over rain"
    model.generate("tta", caption, duration=seconds, steps=min(steps), seed=0)  # warm-up
    times: dict[int, list[float]] = {count: [] for count in steps}
    for _ in range(repeats):
        for count in steps:
            start = time.perf_counter()
            model.generate("tta", caption, duration=seconds, steps=count, seed=0)
            times[count].append(time.perf_counter() - start)
    results = []
    for count in steps:
        wall = statistics.median(times[count])
        results.append(DiffusionSpeed(count, seconds, wall, seconds / wall))
    return results


def format_diffusion_table(results: list[DiffusionSpeed]) -> str:
    lines = ["| steps | audio | generate() s | x real time |", "| --: | --: | --: | --: |"]
    for r in results:
        lines.append(f"| {r.steps} | {r.seconds:g} s | {r.wall_s:.2f} | {r.speedup:.2f} |")
    return "\n".join(lines)
