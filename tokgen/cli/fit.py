"""``tokgen fit codec``: fit a parametric or spectral codec (no gradient training)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_fit_codec(args: argparse.Namespace) -> None:
    from tokgen.codecs.parametric_codec import ParametricConfig
    from tokgen.codecs.spectral_codec import SpectralConfig
    from tokgen.training.codebook_fit import FitSettings, fit_codec

    if args.backend == "spectral":
        config = SpectralConfig(name=args.name, n_q=args.codebooks, pca_dims=args.pca_dims)
    else:
        config = ParametricConfig(
            name=args.name, n_q=args.codebooks, second_pitch=args.second_pitch
        )
    settings = FitSettings(
        max_hours=args.hours,
        iterations=args.iterations,
        max_frames=args.max_frames,
        seed=args.seed,
        jobs=args.jobs,
    )
    print(f"fitted codec written to {fit_codec(args.manifest, args.out, config, settings)}")


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    fit = commands.add_parser("fit", help="fit a parametric model (no gradient training)")
    fit_kinds = fit.add_subparsers(dest="kind", required=True, metavar="KIND")
    about = (
        "fit a codec's residual k-means codebooks on a manifest's audio: the pitch-explicit "
        "parametric codec (WORLD parameters, the default) or the spectral one (log STFT "
        "magnitudes + Griffin-Lim); deterministic for a seed; rerun to resume"
    )
    p = fit_kinds.add_parser("codec", help=about, description=about)
    p.add_argument("--manifest", required=True, help="train manifest, e.g. data/corpus/train.jsonl")
    p.add_argument("--out", required=True, help="work folder; the codec goes to OUT/model")
    p.add_argument(
        "--backend",
        choices=("parametric", "spectral"),
        default="parametric",
        help="what the codebooks code (default %(default)s)",
    )
    p.add_argument("--name", default="tokgen-codec-16k", help="codec name (default %(default)s)")
    p.add_argument(
        "--codebooks",
        type=int,
        default=8,
        help="parametric: 1 F0 + N-1 residual codebooks; spectral: N residual (default 8)",
    )
    p.add_argument(
        "--second-pitch",
        action="store_true",
        help="code a second harmonic source (chords) in the last codebook",
    )
    p.add_argument(
        "--pca-dims",
        type=int,
        default=0,
        help="spectral: latent = this many principal components of the log magnitudes "
        "(default 0: every bin)",
    )
    p.add_argument("--hours", type=float, default=3.0, help="audio to analyse (default 3)")
    p.add_argument("--iterations", type=int, default=20, help="k-means iterations (default 20)")
    p.add_argument(
        "--max-frames",
        type=int,
        default=300_000,
        help="frames per k-means stage, a seeded sample (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="selection and k-means seed (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="analysis processes (default 2)")
    p.set_defaults(func=cmd_fit_codec)
