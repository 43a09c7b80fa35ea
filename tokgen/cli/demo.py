"""``tokgen demo``: the Gradio demo (``demos/app.py``) in the browser."""

from __future__ import annotations

import argparse
from typing import Any

from tokgen.errors import MissingDependencyError


def cmd_demo(args: argparse.Namespace) -> None:
    try:
        from demos.app import DemoLimits, build_demo, launch
    except ImportError as err:
        raise MissingDependencyError(
            f"the demo needs gradio ({err}); install it with `pip install -e '.[demo]'`."
        ) from err
    limits = DemoLimits(max_upload_mb=args.max_upload_mb, queue_size=args.queue_size)
    demo = build_demo(args.model, codec=args.codec, limits=limits)
    launch(demo, host=args.host, port=args.port, share=args.share)


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    p = commands.add_parser(
        "demo",
        help="serve the Gradio demo: every task of a model, and the codec, in the browser",
        description="Serve the demo on http://HOST:PORT (127.0.0.1 unless told otherwise; "
        "a public gradio.live link only with --share). One job runs at a time.",
    )
    p.add_argument(
        "--model", default="tokgen-small", help="model name or directory (default %(default)s)"
    )
    p.add_argument(
        "--codec",
        default="tokgen-codec-16k",
        help="codec of the codec tab (default %(default)s, the shipped default codec)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=7860, help="port (default %(default)s)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument(
        "--max-upload-mb", type=int, default=20, help="largest upload in MB (default %(default)s)"
    )
    p.add_argument(
        "--queue-size", type=int, default=16, help="jobs that may wait (default %(default)s)"
    )
    p.set_defaults(func=cmd_demo)
