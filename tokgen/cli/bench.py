"""``tokgen bench codec | tts | f0 | diffusion``: speed, measured side by side."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def cmd_bench_codec(args: argparse.Namespace) -> None:
    from tokgen.eval.bench import bench_codecs, format_table

    results = bench_codecs(
        args.codecs,
        seconds=args.seconds,
        batch=args.batch,
        repeats=args.repeats,
        pretrained=not args.random_init,
    )
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=2))


def cmd_bench_tts(args: argparse.Namespace) -> None:
    import torch

    from tokgen.eval.bench import (
        bench_duration_tts,
        bench_tts,
        format_lm_table,
        format_speed_rows,
        from_recipe,
    )
    from tokgen.pipeline import load
    from tokgen.tts import DurationTTS

    torch.manual_seed(0)
    model = from_recipe(args.recipe) if args.recipe else load(args.model)
    if isinstance(model, DurationTTS):
        compare = load(args.compare) if args.compare else None
        rows = bench_duration_tts(model, repeats=args.repeats, batch=args.batch, busy=args.busy,
                                  compare=compare)  # fmt: skip
        print(format_speed_rows(rows, f"{args.model}: one sentence, medians of interleaved rounds"))
        return
    bench = bench_tts(
        model, seconds=args.seconds, repeats=args.repeats, batch=args.batch, busy=args.busy
    )
    print(format_lm_table(bench))


def cmd_bench_diffusion(args: argparse.Namespace) -> None:
    from tokgen.eval.bench import bench_diffusion, format_diffusion_table
    from tokgen.pipeline import load

    steps = [int(s) for s in args.steps.split(",")]
    results = bench_diffusion(load(args.model), seconds=args.seconds, steps=steps,
                              repeats=args.repeats)  # fmt: skip
    print(format_diffusion_table(results))


def cmd_bench_f0(args: argparse.Namespace) -> None:
    from tokgen.eval.bench import bench_f0_trackers, format_tracker_table

    results = bench_f0_trackers(args.manifest, limit=args.limit)
    print(format_tracker_table(results, args.limit))


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    bench = commands.add_parser("bench", help="speed benchmarks")
    bench_kinds = bench.add_subparsers(dest="kind", required=True, metavar="KIND")
    p = bench_kinds.add_parser("codec", help="encode+decode speed of codecs, side by side")
    p.add_argument("codecs", nargs="+", help="codec names or directories")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    p.add_argument("--batch", type=int, default=1, help="clips per call (default 1)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument(
        "--random-init", action="store_true", help="time architectures with random weights"
    )
    p.add_argument("--json", help="also write the results here")
    p.set_defaults(func=cmd_bench_codec)
    p = bench_kinds.add_parser(
        "tts",
        help="TTS speed side by side: the LM with and without KV cache, batched, with "
        "decoding, generate() end to end, the bandwidth bound (and --busy); for a duration "
        "TTS (tokgen-tts-small) each piece of generate(), batched, and --compare's generate()",
    )
    p.add_argument("--model", default="tokgen-small", help="model name or directory")
    p.add_argument("--recipe", help="time a random model with an LM recipe's sizes instead")
    p.add_argument("--compare", help="a duration TTS only: also time this LM's generate()")
    p.add_argument("--seconds", type=float, default=3.0, help="audio to generate (default 3)")
    p.add_argument("--batch", type=int, default=8, help="batch of the throughput row (default 8)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    p.add_argument(
        "--busy",
        action="store_true",
        help="also time the batch-1 rows while another process keeps one core busy",
    )
    p.set_defaults(func=cmd_bench_tts)
    p = bench_kinds.add_parser(
        "diffusion",
        help="text-to-audio speed of a diffusion model at batch 1 for several step counts",
    )
    p.add_argument("--model", default="tokgen-diffusion-small", help="model name or directory")
    p.add_argument("--seconds", type=float, default=4.0, help="audio to generate (default 4)")
    p.add_argument("--steps", default="4,8,16,25", help="step counts (default 4,8,16,25)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    p.set_defaults(func=cmd_bench_diffusion)
    about = (
        "F0 trackers inside the parametric codec's WORLD analysis: speed and unquantized "
        "PESQ-WB / STOI on flite/festival speech (why the codec uses DIO + StoneMask)"
    )
    p = bench_kinds.add_parser("f0", help=about, description=about)
    p.add_argument("--manifest", required=True, help="e.g. data/corpus/test.jsonl")
    p.add_argument("--limit", type=int, default=20, help="speech clips (default 20)")
    p.set_defaults(func=cmd_bench_f0)
