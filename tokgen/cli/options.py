"""Options and helpers shared by the command modules."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_codec_args(parser: argparse.ArgumentParser, default: str | None) -> None:
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


def load_codec_from(args: argparse.Namespace, **kwargs: object):
    from tokgen.codecs import load_codec

    return load_codec(args.codec, pretrained=not args.random_init, **kwargs)


SAMPLING_ARGS: dict[str, dict[str, Any]] = {  # option -> its add_argument keywords
    "temperature": {"type": float, "default": 1.0, "help": "0: greedy (default 1)"},
    "top_k": {"type": int, "default": 0, "help": "keep the k likeliest tokens (0: off)"},
    "top_p": {"type": float, "default": 1.0, "help": "nucleus sampling (1: off)"},
    "cfg_scale": {
        "type": float,
        "help": "classifier-free guidance (default: 3 where the task was trained for it, else 1)",
    },
    "steps": {"type": int, "help": "sampling steps of a diffusion model (default: the model's)"},
    "seed": {"type": int},
}
SAMPLING_OPTIONS = tuple(SAMPLING_ARGS)


def add_sampling_args(
    parser: argparse.ArgumentParser, *, seed: int | None, only: tuple[str, ...] = SAMPLING_OPTIONS
) -> None:
    """The sampling options of every generating command (defaults: the model's): those of
    :data:`SAMPLING_OPTIONS` named in ``only`` (a model's options; other names are ignored).
    ``seed`` is ``--seed``'s default."""
    seed_help = f"integer seed (default {seed})" if seed is not None else (
        "integer seed (default: a random one)")  # fmt: skip
    for name in SAMPLING_OPTIONS:
        if name in only:
            extra = {"default": seed, "help": seed_help} if name == "seed" else {}
            flag = "--" + name.replace("_", "-")
            parser.add_argument(flag, **SAMPLING_ARGS[name], **extra)


def sampling_from(args: argparse.Namespace) -> dict[str, Any]:
    """The sampling keyword arguments of ``generate()`` from the parsed options (those the
    command has; ``steps`` only when given)."""
    options = {name: getattr(args, name) for name in SAMPLING_OPTIONS if hasattr(args, name)}
    if options.get("steps", 0) is None:  # diffusion models only
        del options["steps"]
    return options


def add_recipe_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("--config", required=True, help=f"recipe YAML, e.g. {example}")
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override, e.g. run.max_steps=100"
    )


def report_failures(failures: list[Any], *, shown: int) -> int:
    """Exit status of a job that skips bad rows: 0, or 1 after listing ``shown`` of them."""
    if not failures:
        return 0
    print(f"tokgen: {len(failures)} rows failed and were left out:", file=sys.stderr)
    for failure in failures[:shown]:
        print(f"  {failure.id}: {failure.reason}", file=sys.stderr)
    return 1
