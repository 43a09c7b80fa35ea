"""``tokgen data build | tokenize | align | import | real-speech | noisy``: corpora and manifests."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tokgen.cli.options import (
    add_codec_args,
    load_codec_from,
    report_failures,
)


def cmd_data_build(args: argparse.Namespace) -> None:
    from tokgen.data.build import build_corpus

    report = build_corpus(args.out, hours=args.hours, seed=args.seed, jobs=args.jobs)
    summary = report.summary
    print(
        f"{args.out}: {summary['clips']} clips, {summary['hours_total']:.2f} h "
        f"({report.rendered} rendered now, {report.skipped} already there)\n"
        f"hours per kind: {summary['hours_per_kind']}\n"
        f"hours per split: {summary['hours_per_split']}\n"
        f"{len(summary['voices'])} voices, {len(summary['classes'])} sound classes; "
        f"summary in {Path(args.out) / 'summary.json'}"
    )


def cmd_data_tokenize(args: argparse.Namespace) -> int:
    from tokgen.data.tokenize import tokenize_manifest

    report = tokenize_manifest(
        load_codec_from(args),
        args.manifest,
        args.out,
        batch_size=args.batch_size,
        num_codebooks=args.num_codebooks,
        with_sources=args.with_sources,
        latents=args.latents,
        kinds=args.kinds.split(",") if args.kinds else None,
    )
    print(f"{args.out}: {report.summary()}")
    return report_failures(report.failures, shown=5)


def cmd_data_align(args: argparse.Namespace) -> None:
    from tokgen.data.alignment import align_manifest

    written = align_manifest(args.manifest, args.out, limit=args.limit)
    print(f"{args.out}: {written} clips aligned now")


def cmd_data_import(args: argparse.Namespace) -> int:
    from tokgen.data.dataset_import import import_dataset, split_manifest

    report = import_dataset(
        args.src,
        args.out,
        fmt=args.format,
        valid_fraction=args.valid_fraction,
        voice=args.voice,
        text_kind=args.text_kind,
        max_seconds=args.max_seconds,
    )
    out = Path(args.out)
    print(
        f"{report.manifest}: {report.rows} rows ({report.format}), {report.hours:.2f} h; "
        f"splits in {split_manifest(out, 'train')} and {split_manifest(out, 'valid')}"
    )
    return report_failures(report.failures, shown=len(report.failures))


def cmd_data_example_voice(args: argparse.Namespace) -> None:
    from tokgen.data.example_voice import make_example_voice

    print(make_example_voice(args.out, voice=args.voice, clips=args.clips, seed=args.seed))


def cmd_data_real_speech(args: argparse.Namespace) -> None:
    from tokgen.data.real_speech import build_real_speech

    print(f"wrote {build_real_speech(args.out)}")


def cmd_data_noisy(args: argparse.Namespace) -> None:
    from tokgen.data.noisy import build_noisy_speech

    print(build_noisy_speech(args.manifest, args.out, seed=args.seed, limit=args.limit))


def _add_build(data_kinds: Any) -> None:
    """``tokgen data build``."""
    p = data_kinds.add_parser(
        "build",
        help="synthesize the speech / music / sound-event / mixture corpus with Debian tools "
        "(flite, festival, espeak-ng, fluidsynth, sox); deterministic for a seed; rerun to resume",
    )
    p.add_argument("--out", required=True, help="corpus folder (manifests + audio/)")
    p.add_argument("--hours", type=float, default=7.0, help="planned hours in all (default 7)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="parallel render processes (default 2)")
    p.set_defaults(func=cmd_data_build)


def _add_tokenize(data_kinds: Any) -> None:
    """``tokgen data tokenize``."""
    about = (
        "encode a manifest's audio into token shards for LM training: DIR/tokens.json "
        "(codec header), DIR/tokens.jsonl (rows + shard, offset, frames) and "
        "DIR/shard-*.safetensors; rerun to resume; rows that fail are listed and left out "
        "(exit status 1)"
    )
    p = data_kinds.add_parser("tokenize", help=about, description=about)
    add_codec_args(p, "tokgen-codec-16k")
    p.add_argument("--manifest", required=True, help="JSONL manifest from `tokgen data build`")
    p.add_argument("--out", required=True, help="output folder DIR")
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="clips per encode call (default 8; pays off on a GPU, on CPU 1 is as fast)",
    )
    p.add_argument("--num-codebooks", type=int, help="keep fewer codebooks than the default")
    p.add_argument(
        "--with-sources",
        action="store_true",
        help="also encode each mixture row's sources[i].path (for separation training)",
    )
    p.add_argument(
        "--latents",
        action="store_true",
        help="store the codec's continuous latents [D, F] instead of codes (for "
        "`tokgen train diffusion`)",
    )
    p.add_argument(
        "--kinds", help="only rows of these comma-separated kinds, e.g. music,sound_event"
    )
    p.set_defaults(func=cmd_data_tokenize)


def _add_align(data_kinds: Any) -> None:
    """``tokgen data align``."""
    about = (
        "time the phones of a manifest's speech rows for the duration TTS: flite says each "
        "transcript and DTW on MFCCs moves its phone ends onto the clip; writes one JSONL "
        "line per clip (id, frames, phone ids, durations in 20 ms frames); rerun to resume"
    )
    p = data_kinds.add_parser("align", help=about, description=about)
    p.add_argument("--manifest", required=True, help="JSONL manifest from `tokgen data build`")
    p.add_argument("--out", required=True, help="output JSONL, e.g. data/align/train.jsonl")
    p.add_argument("--limit", type=int, help="only the first N speech rows")
    p.set_defaults(func=cmd_data_align)


def _add_import(data_kinds: Any) -> None:
    """``tokgen data import``."""
    about = (
        "turn an existing dataset (LJSpeech, Common Voice TSV, a file,caption CSV, or audio "
        "files with .txt transcripts) into a tokgen manifest; every clip is checked, bad rows "
        "are listed and left out (exit status 1); deterministic, safe to rerun"
    )
    p = data_kinds.add_parser("import", help=about, description=about)
    p.add_argument("src", help="the dataset's root folder")
    p.add_argument("--out", required=True, help="the manifest to write, e.g. data/mine.jsonl")
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", "ljspeech", "commonvoice", "captions", "folder"],
        help="dataset layout (default: detected)",
    )
    p.add_argument(
        "--valid-fraction", type=float, default=0.05, help="share of rows in valid (default 0.05)"
    )
    p.add_argument("--voice", help="speaker id for LJSpeech / folder speech (default: folder name)")
    p.add_argument(
        "--text-kind",
        default="transcript",
        choices=["transcript", "caption"],
        help="what a folder layout's .txt files hold (default transcript)",
    )
    p.add_argument("--max-seconds", type=float, default=30.0, help="longest clip kept (default 30)")
    p.set_defaults(func=cmd_data_import)


def _add_real_speech(data_kinds: Any) -> None:
    """``tokgen data real-speech``."""
    p = data_kinds.add_parser(
        "real-speech",
        help="the 8 recorded human announcements of sound-theme-freedesktop as a manifest "
        "with transcripts (held-out natural speech for `tokgen eval codec`)",
    )
    p.add_argument("--out", required=True, help="output folder (audio/ + real_speech.jsonl)")
    p.set_defaults(func=cmd_data_real_speech)


def _add_example_voice(data_kinds: Any) -> None:
    """``tokgen data example-voice``."""
    p = data_kinds.add_parser(
        "example-voice",
        help="a small LJSpeech-layout dataset (metadata.csv + wavs/) in a voice tokgen-small "
        "never trained on: the fixture of the README's fine-tuning example; rerun to resume",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--voice", default="flite-awb", help="a corpus voice id (default %(default)s)")
    p.add_argument("--clips", type=int, default=120, help="sentences (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sentence seed (default %(default)s)")
    p.set_defaults(func=cmd_data_example_voice)


def _add_noisy(data_kinds: Any) -> None:
    """``tokgen data noisy``."""
    p = data_kinds.add_parser(
        "noisy",
        help="noisy speech rows (speech + a sound event at 0-15 dB SNR) for the enhancement "
        "task lm/tasks/enhance.yaml; rerun to resume",
    )
    p.add_argument(
        "--manifest", required=True, help="a corpus manifest, e.g. data/corpus/train.jsonl"
    )
    p.add_argument("--out", required=True, help="the new manifest, in the same folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="only the first N speech rows")
    p.set_defaults(func=cmd_data_noisy)


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    data = commands.add_parser("data", help="build the synthetic corpus; tokenize manifests")
    data_kinds = data.add_subparsers(dest="kind", required=True, metavar="KIND")
    adders = (
        _add_build,
        _add_tokenize,
        _add_align,
        _add_import,
        _add_example_voice,
        _add_real_speech,
        _add_noisy,
    )
    for add in adders:
        add(data_kinds)
