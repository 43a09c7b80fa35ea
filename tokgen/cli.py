"""The ``tokgen`` command. ``tokgen --help`` and ``tokgen COMMAND --help`` document each command."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from tokgen.checks import output_path
from tokgen.errors import InvalidInputError, TokgenError


def _add_codec_args(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--codec",
        default=default,
        help="codec name (see `tokgen codecs`) or checkpoint directory"
        + (f" (default: {default})" if default else ""),
    )
    parser.add_argument(
        "--random-init",
        action="store_true",
        help="build the named codec with random weights instead of loading trained ones",
    )


def _load(args: argparse.Namespace, **kwargs: object):
    from tokgen.codecs import load_codec

    return load_codec(args.codec, pretrained=not args.random_init, **kwargs)


def cmd_codecs(args: argparse.Namespace) -> None:
    from tokgen.codecs import available_codecs

    for name in available_codecs():
        print(name)


def cmd_encode(args: argparse.Namespace) -> None:
    from tokgen import audio
    from tokgen.codecs.token_file import save_tokens

    output_path(args.output, (".tokens",), "token")
    codec = _load(args)
    clip = audio.load(args.input)
    _check_one_frame(args.input, clip, codec)
    codes = codec.encode(clip, num_codebooks=args.num_codebooks, bandwidth=args.bandwidth)
    num_samples = -(-clip.num_samples * codec.sample_rate // clip.sample_rate)  # resampled T
    out = save_tokens(args.output, codes, codec, [num_samples] * codes.shape[0])
    print(
        f"{args.input}: {clip.duration:.2f} s -> {codes.shape[1]} codebooks x {codes.shape[2]} "
        f"frames of {codec.name} ({codec.bandwidth_for(codes.shape[1]):g} kbps) -> {out}"
    )


def _check_one_frame(name: str, clip: Any, codec: Any) -> None:
    """A file must hold at least one codec frame (the library pads shorter tensors)."""
    if clip.duration * codec.frame_rate < 1:
        raise InvalidInputError(
            f"{name} holds {clip.num_samples} samples ({clip.duration * 1000:.1f} ms), less "
            f"than one {1000 / codec.frame_rate:g} ms frame of {codec.name}; use a longer file."
        )


def cmd_decode(args: argparse.Namespace) -> None:
    from tokgen import audio
    from tokgen.codecs.token_file import load_tokens

    output_path(args.output, audio.AUDIO_SUFFIXES, "audio")
    tokens = load_tokens(args.input)
    args.codec = args.codec or tokens.codec
    codec = _load(args)
    tokens.check_codec(codec)
    wav = codec.decode(tokens.codes, length=max(tokens.num_samples))  # [B, C, T]
    outputs = _batch_paths(Path(args.output), wav.shape[0])
    for item, (path, length) in enumerate(zip(outputs, tokens.num_samples)):
        audio.save(path, wav[item, :, :length], codec.sample_rate)
        print(
            f"{args.input} [{item}]: {length / codec.sample_rate:.2f} s at {codec.sample_rate} Hz -> {path}"
        )


def _batch_paths(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{i}{output.suffix}") for i in range(count)]


def cmd_roundtrip(args: argparse.Namespace) -> None:
    from tokgen import audio

    if args.output:
        output_path(args.output, audio.AUDIO_SUFFIXES, "audio")
    codec = _load(args)
    args.input = args.input or str(audio.SAMPLE_SPEECH)
    clip = audio.load(args.input, target_sample_rate=codec.sample_rate, channels=codec.channels)
    _check_one_frame(args.input, clip, codec)
    start = time.perf_counter()
    codes = codec.encode(clip)
    encoded = time.perf_counter()
    wav = codec.decode(codes, length=clip.num_samples)
    done = time.perf_counter()
    from tokgen.eval.metrics import mel_distance

    reference, decoded = clip.samples[0].mean(0), wav[0].mean(0)  # mono [T]
    distance = mel_distance(reference, decoded, codec.sample_rate)
    weights = (
        "random weights (untrained)" if args.random_init else "shipped weights (trained or fitted)"
    )
    print(f"codec      {codec.name} [{weights}]")
    print(
        f"input      {args.input}: {clip.duration:.2f} s, {codec.sample_rate} Hz, {codec.channels} ch"
    )
    print(
        f"tokens     {tuple(codes.shape)} [B, K, F]: {codec.frame_rate:g} Hz x {codes.shape[1]} "
        f"codebooks of {codec.cardinality} = {codec.bandwidth:g} kbps"
    )
    print(
        f"speed      encode {encoded - start:.3f} s, decode {done - encoded:.3f} s "
        f"({clip.duration / (done - start):.1f}x real time)"
    )
    print(f"quality    log-mel distance to the input {distance:.3f} (0 = identical)")
    if args.output:
        print(f"output     {audio.save(args.output, wav[0], codec.sample_rate)}")
    if args.spectrogram:
        from tokgen.eval.spectrogram import save_spectrograms

        panels = [("input", reference), (f"{codec.name}, {codec.bandwidth:g} kbps", decoded)]
        print(f"picture    {save_spectrograms(args.spectrogram, panels, codec.sample_rate)}")


def cmd_download(args: argparse.Namespace) -> None:
    from tokgen.codecs import download_codec

    print(download_codec(args.name))


def cmd_fit_codec(args: argparse.Namespace) -> None:
    from tokgen.codecs.parametric_codec import ParametricConfig
    from tokgen.training.codebook_fit import FitSettings, fit_codec

    config = ParametricConfig(name=args.name, n_q=args.codebooks, second_pitch=args.second_pitch)
    settings = FitSettings(
        max_hours=args.hours, iterations=args.iterations, seed=args.seed, jobs=args.jobs
    )
    print(f"fitted codec written to {fit_codec(args.manifest, args.out, config, settings)}")


def cmd_train_codec(args: argparse.Namespace) -> None:
    from tokgen.training.codec_training import train_codec
    from tokgen.training.config import load_codec_train_config

    config = load_codec_train_config(args.config, args.set or [])
    print(f"trained codec written to {train_codec(config)}")


def cmd_data_noisy(args: argparse.Namespace) -> None:
    from tokgen.data.noisy import build_noisy_speech

    print(build_noisy_speech(args.manifest, args.out, seed=args.seed, limit=args.limit))


def cmd_train_lm(args: argparse.Namespace) -> None:
    from tokgen.training.config import load_lm_train_config
    from tokgen.training.lm_training import train_lm

    config = load_lm_train_config(args.config, args.set or [])
    print(f"trained LM written to {train_lm(config)}")


def cmd_train_judge(args: argparse.Namespace) -> None:
    from tokgen.eval.judge import judge_accuracy, train_judge

    judge = train_judge(args.manifest, args.out, steps=args.steps, batch_size=args.batch_size)
    print(f"judge written to {args.out}")
    if args.test:
        result = judge_accuracy(judge, args.test)
        print(
            f"real test clips: class accuracy {result.class_accuracy:.3f} over "
            f"{result.clips} clips / {result.classes_seen} classes; voice accuracy "
            f"{result.voice_accuracy:.3f} over {result.voice_clips} clips of known voices"
        )


def cmd_eval_task(args: argparse.Namespace) -> None:
    import tokgen
    from tokgen.eval import lm_eval
    from tokgen.eval.judge import load_judge

    model = tokgen.load(args.model)
    sampling = {"temperature": args.temperature, "top_k": args.top_k, "cfg_scale": args.cfg_scale}
    options = {"limit": args.limit, "seed": args.seed, **sampling}
    if args.kind == "lass":
        result = lm_eval.eval_lass(model, args.manifest, **options)
    else:
        run = {
            "tts": lm_eval.eval_tts,
            "tta": lm_eval.eval_tta,
            "continuation": lm_eval.eval_continuation,
        }[args.kind]
        result = run(model, load_judge(args.judge), args.manifest, **options)
    print(lm_eval.format_result(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2) + "\n")


def cmd_generate(args: argparse.Namespace) -> None:
    import tokgen
    from tokgen.audio import AUDIO_SUFFIXES

    output_path(args.output, AUDIO_SUFFIXES, "audio")
    model = tokgen.load(args.model)
    kwargs = {
        "text": args.text,
        "audio": args.audio,
        "prompt_audio": args.prompt,
        "duration": args.duration,
    }
    out = model.generate(
        args.task,
        **{k: v for k, v in kwargs.items() if v is not None},
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        cfg_scale=args.cfg_scale,
        seed=args.seed,
        progress=True,
    )
    for path in out.save(args.output):
        print(path)


def cmd_bench_f0(args: argparse.Namespace) -> None:
    from tokgen.eval.bench import bench_f0_trackers, format_tracker_table

    results = bench_f0_trackers(args.manifest, limit=args.limit)
    print(format_tracker_table(results, args.limit))


def cmd_bench_tts(args: argparse.Namespace) -> None:
    import torch

    from tokgen.eval.bench import bench_tts, format_lm_table, from_recipe
    from tokgen.pipeline import load

    torch.manual_seed(0)
    model = from_recipe(args.recipe) if args.recipe else load(args.model)
    results = bench_tts(model, seconds=args.seconds, repeats=args.repeats, batch=args.batch)
    print(format_lm_table(results, args.seconds))


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


def cmd_eval_codec(args: argparse.Namespace) -> None:
    from tokgen.eval.codec_eval import evaluate_codec, format_markdown

    result = evaluate_codec(
        _load(args),
        args.manifest,
        num_codebooks=args.num_codebooks,
        limit=args.limit,
        speed_seconds=args.speed_seconds,
        judge=None if args.no_judge else args.judge,
        kinds=args.kinds.split(",") if args.kinds else None,
    )
    print(format_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2))


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
    return _report_failures(report.failures, shown=len(report.failures))


def cmd_data_real_speech(args: argparse.Namespace) -> None:
    from tokgen.data.real_speech import build_real_speech

    print(f"wrote {build_real_speech(args.out)}")


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
        _load(args),
        args.manifest,
        args.out,
        batch_size=args.batch_size,
        num_codebooks=args.num_codebooks,
        with_sources=args.with_sources,
    )
    print(f"{args.out}: {report.summary()}")
    return _report_failures(report.failures, shown=5)


def _report_failures(failures: list[Any], *, shown: int) -> int:
    """Exit status of a job that skips bad rows: 0, or 1 after listing ``shown`` of them."""
    if not failures:
        return 0
    print(f"tokgen: {len(failures)} rows failed and were left out:", file=sys.stderr)
    for failure in failures[:shown]:
        print(f"  {failure.id}: {failure.reason}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    from tokgen import __version__

    parser = argparse.ArgumentParser(
        prog="tokgen",
        description="tokgen: codec-token generative audio. Audio <-> tokens with neural codecs, "
        "and the models and training that build on them.",
    )
    parser.add_argument("--version", action="version", version=f"tokgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("codecs", help="list the codec names load_codec accepts")
    p.set_defaults(func=cmd_codecs)

    p = commands.add_parser("encode", help="audio file -> .tokens file (safetensors)")
    p.add_argument("input", help="audio file (wav, flac, ogg, ...)")
    p.add_argument("-o", "--output", required=True, help="output .tokens file")
    _add_codec_args(p, "tokgen-codec-16k")
    p.add_argument("--num-codebooks", type=int, help="emit fewer codebooks than the default")
    p.add_argument(
        "--bandwidth", type=float, help="target bitrate in kbps (instead of --num-codebooks)"
    )
    p.set_defaults(func=cmd_encode)

    p = commands.add_parser("decode", help=".tokens file -> audio file")
    p.add_argument("input", help=".tokens file written by `tokgen encode`")
    p.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, .ogg)")
    _add_codec_args(p, None)
    p.set_defaults(func=cmd_decode)

    p = commands.add_parser(
        "roundtrip", help="encode and decode a clip, printing shapes, bitrate, speed and SNR"
    )
    p.add_argument(
        "input",
        nargs="?",
        default=None,
        help="audio file (default: a bundled speech sample)",
    )
    p.add_argument("-o", "--output", help="write the decoded audio here")
    p.add_argument("--spectrogram", help="write input and output spectrograms to this PNG")
    _add_codec_args(p, "tokgen-codec-16k")
    p.set_defaults(func=cmd_roundtrip)

    p = commands.add_parser(
        "download", help="fetch official EnCodec/DAC weights into the cache (needs network)"
    )
    p.add_argument("name", help="e.g. encodec_24khz, dac_16khz")
    p.set_defaults(func=cmd_download)

    data = commands.add_parser("data", help="build the synthetic corpus; tokenize manifests")
    data_kinds = data.add_subparsers(dest="kind", required=True, metavar="KIND")
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
    about = (
        "encode a manifest's audio into token shards for LM training: DIR/tokens.json "
        "(codec header), DIR/tokens.jsonl (rows + shard, offset, frames) and "
        "DIR/shard-*.safetensors; rerun to resume; rows that fail are listed and left out "
        "(exit status 1)"
    )
    p = data_kinds.add_parser("tokenize", help=about, description=about)
    _add_codec_args(p, "tokgen-codec-16k")
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
    p.set_defaults(func=cmd_data_tokenize)
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
    p = data_kinds.add_parser(
        "real-speech",
        help="the 8 recorded human announcements of sound-theme-freedesktop as a manifest "
        "with transcripts (held-out natural speech for `tokgen eval codec`)",
    )
    p.add_argument("--out", required=True, help="output folder (audio/ + real_speech.jsonl)")
    p.set_defaults(func=cmd_data_real_speech)
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

    fit = commands.add_parser("fit", help="fit a parametric model (no gradient training)")
    fit_kinds = fit.add_subparsers(dest="kind", required=True, metavar="KIND")
    about = (
        "fit the pitch-explicit parametric codec (WORLD + residual k-means codebooks) on a "
        "manifest's audio; deterministic for a seed; rerun to resume"
    )
    p = fit_kinds.add_parser("codec", help=about, description=about)
    p.add_argument("--manifest", required=True, help="train manifest, e.g. data/corpus/train.jsonl")
    p.add_argument("--out", required=True, help="work folder; the codec goes to OUT/model")
    p.add_argument("--name", default="tokgen-codec-16k", help="codec name (default %(default)s)")
    p.add_argument(
        "--codebooks", type=int, default=8, help="1 F0 + N-1 residual codebooks (default 8)"
    )
    p.add_argument(
        "--second-pitch",
        action="store_true",
        help="code a second harmonic source (chords) in the last codebook",
    )
    p.add_argument("--hours", type=float, default=3.0, help="audio to analyse (default 3)")
    p.add_argument("--iterations", type=int, default=20, help="k-means iterations (default 20)")
    p.add_argument("--seed", type=int, default=0, help="selection and k-means seed (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="analysis processes (default 2)")
    p.set_defaults(func=cmd_fit_codec)

    train = commands.add_parser("train", help="train a model from a YAML recipe")
    train_kinds = train.add_subparsers(dest="kind", required=True, metavar="KIND")
    p = train_kinds.add_parser(
        "codec",
        help="train a codec (see codecs/*.yaml); rerun to resume; "
        "multi-process: accelerate launch -m tokgen.cli train codec ...",
    )
    _add_recipe_arguments(p, "codecs/tokgen_codec_16k.yaml")
    p.set_defaults(func=cmd_train_codec)
    p = train_kinds.add_parser(
        "lm",
        help="train or fine-tune the codec LM on a token corpus (see lm/*.yaml); rerun to resume",
    )
    _add_recipe_arguments(p, "lm/tokgen_small.yaml")
    p.set_defaults(func=cmd_train_lm)
    p = train_kinds.add_parser(
        "judge",
        help="train the audio judge (class + voice classifier) that scores generated audio",
    )
    p.add_argument("--manifest", required=True, help="train manifest (real clips)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    p.add_argument("--batch-size", type=int, default=32, help="clips per step (default 32)")
    p.add_argument("--test", help="also report accuracy on this (test) manifest's real clips")
    p.set_defaults(func=cmd_train_judge)

    generate = commands.add_parser("generate", help="generate audio with a codec LM")
    tasks = generate.add_subparsers(dest="task", required=True, metavar="TASK")
    usage = {
        "tts": ("text-to-speech in the voice of --prompt", "the words to speak"),
        "tta": ("text-to-audio from a caption", "a description of the sound"),
        "lass": ("separate the source a query names from --audio", "the source to keep"),
        "continuation": ("continue --audio (optional caption)", "an optional caption"),
    }
    for task, (help_text, text_help) in usage.items():
        p = tasks.add_parser(task, help=help_text)
        p.add_argument("text", nargs="?" if task == "continuation" else None, help=text_help)
        if task == "tts":
            p.add_argument("--prompt", required=True, help="a few seconds of the voice to imitate")
        if task in ("lass", "continuation"):
            p.add_argument("--audio", required=True, help="the mixture / the audio to continue")
        p.add_argument(
            "--duration",
            type=float,
            help="seconds (default: 4; lass: the mixture's; tts: until done)",
        )
        p.add_argument("-o", "--output", required=True, help="output .wav (stem-i.wav per item)")
        p.add_argument("--model", default="tokgen-small", help="model name or directory")
        p.add_argument("--temperature", type=float, default=1.0)
        p.add_argument("--top-k", type=int, default=0, help="0: off")
        p.add_argument("--top-p", type=float, default=1.0, help="1: off")
        p.add_argument(
            "--cfg-scale",
            type=float,
            help="classifier-free guidance (default: 3 where the task was trained for it, else 1)",
        )
        p.add_argument("--seed", type=int, default=None)
        p.set_defaults(func=cmd_generate, prompt=None, audio=None)

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
        "tts", help="TTS speed: KV cache vs none at batch 1, and batch throughput, side by side"
    )
    p.add_argument("--model", default="tokgen-small", help="model name or directory")
    p.add_argument("--recipe", help="time a random model with an LM recipe's sizes instead")
    p.add_argument("--seconds", type=float, default=3.0, help="audio to generate (default 3)")
    p.add_argument("--batch", type=int, default=8, help="batch of the throughput row (default 8)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    p.set_defaults(func=cmd_bench_tts)
    about = (
        "F0 trackers inside the parametric codec's WORLD analysis: speed and unquantized "
        "PESQ-WB / STOI on flite/festival speech (why the codec uses DIO + StoneMask)"
    )
    p = bench_kinds.add_parser("f0", help=about, description=about)
    p.add_argument("--manifest", required=True, help="e.g. data/corpus/test.jsonl")
    p.add_argument("--limit", type=int, default=20, help="speech clips (default 20)")
    p.set_defaults(func=cmd_bench_f0)

    evaluate = commands.add_parser("eval", help="evaluate models on a held-out manifest")
    eval_kinds = evaluate.add_subparsers(dest="kind", required=True, metavar="KIND")
    p = eval_kinds.add_parser(
        "codec",
        help="reconstruction quality (SI-SDR, mel, MR-STFT; STOI, PESQ, ASR WER on speech; "
        "judge accuracy on music and sound events), bitrate and speed of a codec",
    )
    _add_codec_args(p, "tokgen-codec-16k")
    p.add_argument(
        "--manifest", required=True, help="test JSONL manifest, e.g. from `tokgen data build`"
    )
    p.add_argument("--num-codebooks", type=int, help="use fewer codebooks than the default")
    p.add_argument("--limit", type=int, help="evaluate only the first N rows")
    p.add_argument(
        "--speed-seconds",
        type=float,
        default=10.0,
        help="length of the clip timed for speed (default 10; shorten for slow codecs)",
    )
    p.add_argument(
        "--kinds", help="only rows of these kinds, comma-separated (e.g. music,sound_event)"
    )
    p.add_argument(
        "--judge", default="tokgen-judge", help="audio judge for music/events (default %(default)s)"
    )
    p.add_argument("--no-judge", action="store_true", help="skip the judge")
    p.add_argument("--json", help="also write the results (per item too) here")
    p.set_defaults(func=cmd_eval_codec)
    described = {
        "tts": "WER of generated speech vs the real recordings, voice similarity (judge)",
        "tta": "judge class accuracy of generated audio, Fréchet distance to real clips",
        "lass": "SI-SDR improvement over the mixture, next to the codec's ceiling",
        "continuation": "how often the judge keeps the prompt's class / voice",
    }
    for kind, text in described.items():
        p = eval_kinds.add_parser(kind, help=f"evaluate {kind}: {text}")
        p.add_argument("--model", default="tokgen-small", help="model name or directory")
        p.add_argument("--manifest", required=True, help="held-out manifest (test.jsonl)")
        if kind != "lass":
            p.add_argument(
                "--judge",
                default="tokgen-judge",
                help="the shipped judge (default) or a dir from `tokgen train judge`",
            )
        p.add_argument("--limit", type=int, help="evaluate the first N items only")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--temperature", type=float, default=1.0)
        p.add_argument("--top-k", type=int, default=0)
        p.add_argument("--cfg-scale", type=float, help="guidance (default: the model's)")
        p.add_argument("--json", help="also write the scores (per item too) here")
        p.set_defaults(func=cmd_eval_task)
    return parser


def _add_recipe_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("--config", required=True, help=f"recipe YAML, e.g. {example}")
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override, e.g. run.max_steps=100"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # encodec/DAC build weight-normed layers with an API torch has deprecated; not actionable here.
    warnings.filterwarnings("ignore", message=".*weight_norm.*deprecated", category=FutureWarning)
    try:
        status = args.func(args)  # a command may return 1 for partial failure
    except TokgenError as err:
        print(f"tokgen: error: {err}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
