"""codec commands: ``tokgen codecs | encode | decode | roundtrip | download``."""

from __future__ import annotations

import argparse
import time
from typing import Any

from tokgen.checks import output_path
from tokgen.cli.options import (
    add_codec_args,
    load_codec_from,
)
from tokgen.errors import InvalidInputError


def cmd_codecs(args: argparse.Namespace) -> None:
    from tokgen.codecs import available_codecs

    for name in available_codecs():
        print(name)


def cmd_encode(args: argparse.Namespace) -> None:
    from tokgen import audio
    from tokgen.codecs.token_file import save_tokens

    output_path(args.output, (".tokens",), "token")
    codec = load_codec_from(args)
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
    codec = load_codec_from(args)
    tokens.check_codec(codec)
    wav = codec.decode(tokens.codes, length=max(tokens.num_samples))  # [B, C, T]
    outputs = audio.batch_paths(args.output, wav.shape[0])
    for item, (path, length) in enumerate(zip(outputs, tokens.num_samples)):
        audio.save(path, wav[item, :, :length], codec.sample_rate)
        print(
            f"{args.input} [{item}]: {length / codec.sample_rate:.2f} s at {codec.sample_rate} Hz -> {path}"
        )


def cmd_roundtrip(args: argparse.Namespace) -> None:
    from tokgen import audio

    if args.output:
        output_path(args.output, audio.AUDIO_SUFFIXES, "audio")
    codec = load_codec_from(args)
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


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    p = commands.add_parser("codecs", help="list the codec names load_codec accepts")
    p.set_defaults(func=cmd_codecs)

    p = commands.add_parser("encode", help="audio file -> .tokens file (safetensors)")
    p.add_argument("input", help="audio file (wav, flac, ogg, ...)")
    p.add_argument("-o", "--output", required=True, help="output .tokens file")
    add_codec_args(p, "tokgen-codec-16k")
    p.add_argument("--num-codebooks", type=int, help="emit fewer codebooks than the default")
    p.add_argument(
        "--bandwidth", type=float, help="target bitrate in kbps (instead of --num-codebooks)"
    )
    p.set_defaults(func=cmd_encode)

    p = commands.add_parser("decode", help=".tokens file -> audio file")
    p.add_argument("input", help=".tokens file written by `tokgen encode`")
    p.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, .ogg)")
    add_codec_args(p, None)
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
    add_codec_args(p, "tokgen-codec-16k")
    p.set_defaults(func=cmd_roundtrip)

    p = commands.add_parser(
        "download", help="fetch official EnCodec/DAC weights into the cache (needs network)"
    )
    p.add_argument("name", help="e.g. encodec_24khz, dac_16khz")
    p.set_defaults(func=cmd_download)
