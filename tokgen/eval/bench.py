"""Side-by-side codec speed: encode+decode real-time factors measured in one interleaved run."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from tokgen.codecs import Codec, load_codec


@dataclass
class CodecSpeed:
    """Speed of one codec: ``speedup`` = audio seconds processed per wall-clock second."""

    codec: str
    seconds: float  # audio length per item
    batch: int
    median_s: float  # median wall time of one encode+decode
    speedup: float  # x faster than real time (batch * seconds / median_s)
    relative: float  # speedup / speedup of the first codec benchmarked


def bench_codecs(
    names: list[str],
    *,
    seconds: float = 10.0,
    batch: int = 1,
    repeats: int = 5,
    pretrained: bool = False,
) -> list[CodecSpeed]:
    """Time encode+decode of ``seconds`` of noise for each codec, rounds interleaved.

    Interleaving (A, B, A, B, ...) exposes all codecs to the same machine load, so the
    ratios are meaningful on a noisy machine. ``pretrained=False`` times the architectures
    (random weights), which is what speed depends on.
    """
    codecs: list[Codec] = [load_codec(name, pretrained=pretrained) for name in names]
    generator = torch.Generator().manual_seed(0)
    inputs = [
        0.1 * torch.randn(batch, c.channels, round(seconds * c.sample_rate), generator=generator)
        for c in codecs
    ]
    for codec, wav in zip(codecs, inputs):  # warm-up
        codec.decode(codec.encode(wav, codec.sample_rate))
    times: list[list[float]] = [[] for _ in codecs]
    for _ in range(repeats):
        for i, (codec, wav) in enumerate(zip(codecs, inputs)):
            start = time.perf_counter()
            codec.decode(codec.encode(wav, codec.sample_rate), length=wav.shape[-1])
            times[i].append(time.perf_counter() - start)
    results = []
    for name, spent in zip(names, times):
        median = statistics.median(spent)
        results.append(CodecSpeed(name, seconds, batch, median, batch * seconds / median, 1.0))
    for result in results:
        result.relative = result.speedup / results[0].speedup
    return results


def format_table(results: list[CodecSpeed]) -> str:
    lines = [
        f"{'codec':<22} {'audio':>7} {'batch':>5} {'median s':>9} {'x realtime':>11} {'relative':>9}"
    ]
    for r in results:
        lines.append(
            f"{r.codec:<22} {r.seconds:>6.1f}s {r.batch:>5} {r.median_s:>9.3f} "
            f"{r.speedup:>11.1f} {r.relative:>9.2f}"
        )
    return "\n".join(lines)
