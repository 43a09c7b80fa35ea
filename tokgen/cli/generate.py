"""``tokgen generate TASK``: generate audio with a codec LM."""

from __future__ import annotations

import argparse
from typing import Any

from tokgen.checks import output_path
from tokgen.cli.options import add_sampling_args, sampling_from


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
        **sampling_from(args),
        progress=True,
    )
    for path in out.save(args.output):
        print(path)


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
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
        add_sampling_args(p, seed=None)
        p.set_defaults(func=cmd_generate, prompt=None, audio=None)
