"""Speed, measured side by side in one interleaved run: codecs (encode and decode), F0
trackers inside the parametric codec, and TTS generation (KV cache vs none, batching)."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


def bench_tts(
    model: TokgenModel,
    *,
    seconds: float = 3.0,
    repeats: int = 3,
    batch: int = 8,
) -> list[LMSpeed]:
    """Time TTS of a ``seconds``-long target (AR + NAR + codec decode) side by side:
    batch 1 with the KV cache, batch 1 without it, and ``batch`` items with it.

    The end token is held back so every run makes exactly ``seconds`` of audio; the voice
    prompt is 3 s of fixed random codes (encoding it is not timed).
    """
    from tokgen.lm.generate import Budget, generate_codes
    from tokgen.lm.sampling import generators_for

    config = model.config
    frames = round(seconds * config.frame_rate)
    prompt = torch.randint(
        0, config.cardinality, (config.num_codebooks, round(3 * config.frame_rate)),
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    text = model.frontend.encode("The quick brown fox jumps over the lazy dog.")
    prefix = model.prefix(model.task("tts"), {"text": text, "prompt_audio": prompt})
    budget = Budget(frames, stop_at_eos=True, min_frames=frames)
    settings = [("kv cache, batch 1", 1, True), ("no cache, batch 1", 1, False)]
    settings.append((f"kv cache, batch {batch}", batch, True))

    def run(n: int, cache: bool) -> None:
        codes = generate_codes(
            model.lm, [prefix] * n, [budget] * n, generators_for(0, n), use_cache=cache
        )
        model.codec.decode(torch.stack(codes))

    run(1, True)  # warm-up
    times: list[list[float]] = [[] for _ in settings]
    for _ in range(repeats):
        for i, (_, n, cache) in enumerate(settings):
            start = time.perf_counter()
            run(n, cache)
            times[i].append(time.perf_counter() - start)
    results = []
    for (name, n, _), spent in zip(settings, times):
        median = statistics.median(spent)
        results.append(LMSpeed(name, n, median, n * seconds / median, 1.0))
    for result in results:
        result.relative = result.speedup / results[0].speedup
    return results


def from_recipe(recipe: str | os.PathLike) -> TokgenModel:
    """A randomly initialised model with the sizes of an LM recipe, on a random-init codec
    of its architecture (for speed measurements; nothing is loaded)."""
    from tokgen.lm.model import CodecLM
    from tokgen.pipeline import TokgenModel
    from tokgen.text import TextFrontend
    from tokgen.training.config import load_lm_train_config

    lm = CodecLM(load_lm_train_config(recipe).lm_config(text_vocab=TextFrontend().vocab_size))
    return TokgenModel(lm, load_codec(lm.config.codec, pretrained=False), f"random {recipe}")


def format_lm_table(results: list[LMSpeed], seconds: float) -> str:
    lines = [f"TTS of {seconds:g} s of audio (AR + NAR + decode), medians of interleaved rounds"]
    lines.append(f"{'setting':<20} {'median s':>9} {'x realtime':>11} {'relative':>9}")
    for r in results:
        lines.append(f"{r.setting:<20} {r.median_s:>9.3f} {r.speedup:>11.2f} {r.relative:>9.2f}")
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
    manifest: str, *, limit: int = 20, trackers: tuple[str, ...] = ("dio", "dio-plain", "harvest")
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
