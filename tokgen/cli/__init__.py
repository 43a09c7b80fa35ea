"""The ``tokgen`` command. ``tokgen --help`` and ``tokgen COMMAND --help`` document each command.

One module per command group, each with a ``register(commands)`` that adds its
sub-parsers and sets ``func`` (the command: ``args -> exit status or None``); a new group
is one module plus one entry in :data:`GROUPS`. A command raising a TokgenError prints one
line and exits 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib import import_module

from tokgen.errors import TokgenError

GROUPS = [
    f"tokgen.cli.{name}"
    for name in ("codec", "data", "fit", "train", "generate", "bench", "evaluate", "demo")
]


def build_parser() -> argparse.ArgumentParser:
    from tokgen import __version__

    parser = argparse.ArgumentParser(
        prog="tokgen",
        description="tokgen: codec-token generative audio. Audio <-> tokens with neural codecs, "
        "and the models and training that build on them.",
    )
    parser.add_argument("--version", action="version", version=f"tokgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        import_module(group).register(commands)
    return parser


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
