"""``tokgen eval codec | tts | tta | lass | enhance | continuation | loss``: held-out scores."""

from __future__ import annotations

import argparse
from typing import Any

from tokgen.cli.options import add_codec_args, add_sampling_args, load_codec_from, sampling_from

NO_JUDGE = ("lass", "enhance")  # scored against the true sources, not by the audio judge


def cmd_eval_codec(args: argparse.Namespace) -> None:
    from tokgen.eval.codec_eval import evaluate_codec, format_markdown

    result = evaluate_codec(
        load_codec_from(args),
        args.manifest,
        num_codebooks=args.num_codebooks,
        limit=args.limit,
        speed_seconds=args.speed_seconds,
        judge=None if args.no_judge else args.judge,
        kinds=args.kinds.split(",") if args.kinds else None,
    )
    print(format_markdown(result))
    if args.json:
        from tokgen.eval.report import write_report

        written = write_report(
            args.json,
            result.to_dict(),
            format_markdown(result),
            title=f"tokgen eval codec {result.codec}",
            examples=result.examples,
            sample_rate=result.sample_rate,
        )
        print(f"wrote {written[0]}, the report {written[-1]} and {len(written) - 2} picture(s)")


def cmd_eval_task(args: argparse.Namespace) -> None:
    import tokgen
    from tokgen.eval import lm_eval
    from tokgen.eval.judge import load_judge

    model = tokgen.load(args.model)
    options = {"limit": args.limit, **sampling_from(args)}
    run = {
        "tts": lm_eval.eval_tts,
        "tta": lm_eval.eval_tta,
        "lass": lm_eval.eval_lass,
        "enhance": lm_eval.eval_enhance,
        "continuation": lm_eval.eval_continuation,
    }[args.kind]
    if args.kind == "tta" and args.captions:
        options["captions"] = args.captions
    if args.kind == "continuation" and args.kinds:
        options["kinds"] = tuple(args.kinds.split(","))
    if args.kind in NO_JUDGE:
        result = run(model, args.manifest, **options)
    else:
        result = run(model, load_judge(args.judge), args.manifest, **options)
    print(lm_eval.format_result(result))
    if args.json:
        written = lm_eval.write_report(result, args.json)
        print(f"wrote {written[0]}, the report {written[-1]} and {len(written) - 2} picture(s)")


def cmd_eval_loss(args: argparse.Namespace) -> None:
    import json

    import tokgen
    from tokgen.errors import InvalidInputError
    from tokgen.eval.lm_loss import held_out_loss

    model = tokgen.load(args.model)
    if not hasattr(model, "lm"):
        raise InvalidInputError(f"{args.model} is not a codec LM: the held-out loss needs one.")
    result = held_out_loss(model.lm, model.frontend, args.tokens, args.task, args.items,
                           seed=args.seed)  # fmt: skip
    rows = "".join(f"| {k} | {v:.4f} |\n" for k, v in result.to_dict().items()
                   if isinstance(v, float))  # fmt: skip
    print(f"| {args.task} ({result.items} items of {args.tokens}) | value |\n| --- | --- |\n{rows}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "tokens": args.tokens, **result.to_dict()}, f)


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    evaluate = commands.add_parser("eval", help="evaluate models on a held-out manifest")
    eval_kinds = evaluate.add_subparsers(dest="kind", required=True, metavar="KIND")
    p = eval_kinds.add_parser(
        "codec",
        help="reconstruction quality (SI-SDR, mel, MR-STFT; STOI, PESQ, ASR WER on speech; "
        "judge accuracy on music and sound events), bitrate and speed of a codec",
    )
    add_codec_args(p, "tokgen-codec-16k")
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
    p.add_argument(
        "--json",
        help="also write the results (per item too) here, and next to it a Markdown report "
        "with spectrograms of one item per kind",
    )
    p.set_defaults(func=cmd_eval_codec)
    described = {
        "tts": "WER of generated speech vs the real recordings, voice similarity (judge)",
        "tta": "judge class accuracy of generated audio, Fréchet distance to real clips",
        "lass": "SI-SDR improvement over the mixture, next to the codec's ceiling",
        "enhance": "the same for the YAML task enhance on `tokgen data noisy` rows",
        "continuation": "how often the judge keeps the prompt's class / voice",
    }
    for kind, text in described.items():
        p = eval_kinds.add_parser(kind, help=f"evaluate {kind}: {text}")
        p.add_argument(
            "--model",
            default="tokgen-small",
            help="model name or directory (an LM, or a diffusion model for tta/continuation)",
        )
        p.add_argument("--manifest", required=True, help="held-out manifest (test.jsonl)")
        if kind not in NO_JUDGE:
            p.add_argument(
                "--judge",
                default="tokgen-judge",
                help="the shipped judge (default) or a dir from `tokgen train judge`",
            )
        p.add_argument("--limit", type=int, help="evaluate the first N items only")
        if kind == "tta":
            p.add_argument(
                "--captions",
                help="generate from these captions instead (JSONL of {caption, class}, e.g. "
                "diffusion/fresh_captions.jsonl, written for the check)",
            )
        if kind == "continuation":
            p.add_argument(
                "--kinds", help="prompts of these kinds only, e.g. music,sound_event (default all)"
            )
        add_sampling_args(p, seed=0)
        p.add_argument(
            "--json",
            help="also write the scores (per item too) here, and next to it a Markdown report "
            "with spectrograms of the first items",
        )
        p.set_defaults(func=cmd_eval_task)
    p = eval_kinds.add_parser(
        "loss", help="an LM's teacher-forced AR / NAR loss on a held-out token corpus"
    )
    p.add_argument("--model", default="tokgen-small", help="LM name or directory")
    p.add_argument("--tokens", required=True, help="a token corpus (e.g. data/tokens/valid)")
    p.add_argument("--task", default="tts", help="the task whose examples are scored")
    p.add_argument("--items", type=int, default=200, help="examples drawn (seeded)")
    p.add_argument("--seed", type=int, default=0, help="draws the same examples for every model")
    p.add_argument("--json", help="also write the scores here")
    p.set_defaults(func=cmd_eval_loss)
