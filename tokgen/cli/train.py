"""``tokgen train codec | lm | diffusion | tts | separation | judge``: train a model from a YAML recipe."""

from __future__ import annotations

import argparse
from typing import Any

from tokgen.cli.options import (
    add_recipe_arguments,
)


def cmd_train_codec(args: argparse.Namespace) -> None:
    from tokgen.training.codec_training import train_codec
    from tokgen.training.config import load_codec_train_config

    config = load_codec_train_config(args.config, args.set or [])
    print(f"trained codec written to {train_codec(config)}")


def cmd_train_lm(args: argparse.Namespace) -> None:
    from tokgen.training.config import load_lm_train_config
    from tokgen.training.lm_training import train_lm

    config = load_lm_train_config(args.config, args.set or [])
    print(f"trained LM written to {train_lm(config)}")


def cmd_train_diffusion(args: argparse.Namespace) -> None:
    from tokgen.training.diffusion_training import load_diffusion_train_config, train_diffusion

    config = load_diffusion_train_config(args.config, args.set or [])
    print(f"trained diffusion model written to {train_diffusion(config)}")


def cmd_train_tts(args: argparse.Namespace) -> None:
    from tokgen.training.tts_training import load_tts_train_config, train_tts

    config = load_tts_train_config(args.config, args.set or [])
    print(f"trained duration TTS written to {train_tts(config)}")


def cmd_train_separation(args: argparse.Namespace) -> None:
    from tokgen.training.separation_training import (
        load_separation_train_config,
        train_separation,
    )

    config = load_separation_train_config(args.config, args.set or [])
    print(f"trained separator written to {train_separation(config)}")


def cmd_train_judge(args: argparse.Namespace) -> None:
    from tokgen.eval.judge import NOISE_FLOOR_DB, judge_accuracy, train_judge

    judge = train_judge(
        args.manifest,
        args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        noise_floor=NOISE_FLOOR_DB if args.noise_floor else None,
    )
    print(f"judge written to {args.out}")
    if args.test:
        for noise_db in (None, -60.0):
            result = judge_accuracy(judge, args.test, noise_db=noise_db)
            print(
                f"real test clips{'' if noise_db is None else f' + white noise at {noise_db:g} dBFS'}"
                f": class accuracy {result.class_accuracy:.3f} over {result.clips} clips / "
                f"{result.classes_seen} classes; voice accuracy {result.voice_accuracy:.3f} "
                f"over {result.voice_clips} clips of known voices"
            )


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    train = commands.add_parser("train", help="train a model from a YAML recipe")
    train_kinds = train.add_subparsers(dest="kind", required=True, metavar="KIND")
    p = train_kinds.add_parser(
        "codec",
        help="train a codec (see codecs/*.yaml); rerun to resume; "
        "multi-process: accelerate launch -m tokgen.cli train codec ...",
    )
    add_recipe_arguments(p, "codecs/tokgen_codec_16k.yaml")
    p.set_defaults(func=cmd_train_codec)
    p = train_kinds.add_parser(
        "lm",
        help="train or fine-tune the codec LM on a token corpus (see lm/*.yaml); rerun to resume",
    )
    add_recipe_arguments(p, "lm/tokgen_small.yaml")
    p.set_defaults(func=cmd_train_lm)
    p = train_kinds.add_parser(
        "diffusion",
        help="train or fine-tune the latent diffusion decoder on a latent corpus (`tokgen data "
        "tokenize --latents`; see diffusion/*.yaml); rerun to resume",
    )
    add_recipe_arguments(p, "diffusion/tokgen_diffusion_small.yaml")
    p.set_defaults(func=cmd_train_diffusion)
    p = train_kinds.add_parser(
        "tts",
        help="train or fine-tune the duration TTS on a speech latent corpus and its phone "
        "alignments (`tokgen data tokenize --latents --kinds speech`, `tokgen data align`; see "
        "tts/*.yaml); rerun to resume",
    )
    add_recipe_arguments(p, "tts/tokgen_tts_small.yaml")
    p.set_defaults(func=cmd_train_tts)
    p = train_kinds.add_parser(
        "separation",
        help="train or fine-tune the mask separator on mixtures made on the fly from an audio "
        "manifest's captioned clips (see separation/*.yaml); rerun to resume",
    )
    add_recipe_arguments(p, "separation/tokgen_sep_small.yaml")
    p.set_defaults(func=cmd_train_separation)
    p = train_kinds.add_parser(
        "judge",
        help="train the audio judge (class + voice classifier) that scores generated audio",
    )
    p.add_argument("--manifest", required=True, help="train manifest (real clips)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    p.add_argument("--batch-size", type=int, default=32, help="clips per step (default 32)")
    p.add_argument(
        "--test",
        help="also report accuracy on this (test) manifest's real clips, clean and with noise",
    )
    p.add_argument(
        "--noise-floor",
        action="store_true",
        help="add a random white/pink noise floor (-90 to -40 dBFS) to half the training crops",
    )
    p.set_defaults(func=cmd_train_judge)
