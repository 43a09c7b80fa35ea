"""``tokgen generate TASK``: generate audio with a codec LM.

The task's options are built from the model's own task spec (``--model``, default
``tokgen-small``; ``tokgen-tts-small`` for ``tts``), so a task a model was fine-tuned on, with condition names of its own,
is a sub-command with no code change: ``tokgen generate TASK --help --model M`` lists them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tokgen.checks import output_path
from tokgen.cli.options import add_sampling_args, sampling_from
from tokgen.conditions import ConditionSpec, condition_type
from tokgen.errors import InvalidInputError
from tokgen.tasks import BUILTIN_TASKS, TaskSpec, condition_meaning, default_length

if TYPE_CHECKING:
    from tokgen.pipeline import ModelInfo

FREE_TEXT = ("text", "embedding")  # a condition named ``text`` of these types is positional


def cmd_generate(args: argparse.Namespace) -> None:
    import tokgen
    from tokgen.audio import AUDIO_SUFFIXES
    from tokgen.pipeline import model_info

    model_name = _peek_model(args.rest, args.task)
    info = model_info(model_name)
    specs = info.tasks
    if args.task is None or args.task not in specs:
        raise InvalidInputError(
            f"{model_name} does {sorted(specs)}; got task {args.task!r}. Run "
            f"`tokgen generate TASK --help --model {model_name}` for a task's options."
        )
    parser = task_parser(args.task, specs[args.task], model_name, info)
    options = parser.parse_args(args.rest)
    output_path(options.output, AUDIO_SUFFIXES, "audio")
    conditions = {c.name: getattr(options, c.name) for c in specs[args.task].conditions}
    extra = {name: getattr(options, name) for name in ("duration", "speed") if name in info.options}
    model = tokgen.load(model_name)
    out = model.generate(
        args.task,
        **{k: v for k, v in conditions.items() if v is not None},
        **{k: v for k, v in extra.items() if v is not None},
        **sampling_from(options),
        progress=True,
    )
    for path in out.save(options.output):
        print(path)


def task_parser(
    task: str, spec: TaskSpec, model_name: str, info: ModelInfo
) -> argparse.ArgumentParser:
    """The options of ``tokgen generate TASK`` from the task's spec and the options the
    model takes (``info.options``)."""
    parser = argparse.ArgumentParser(
        prog=f"tokgen generate {task}",
        description=_escape(f"{task}: {spec.description or 'a task of ' + model_name}."),
    )
    for condition in spec.conditions:
        text = _condition_help(task, condition)
        if condition.name == "text" and condition.type in FREE_TEXT:
            nargs = None if condition.required else "?"
            parser.add_argument("text", nargs=nargs, help=text)
            continue
        flags = [f"--{condition.name.replace('_', '-')}"]
        if condition.name.endswith("_audio"):  # --prompt for prompt_audio
            flags.append(f"--{condition.name.removesuffix('_audio')}")
        parser.add_argument(*flags, dest=condition.name, required=condition.required, help=text)
    if "duration" in info.options:
        parser.add_argument(
            "--duration",
            type=float,
            help=f"seconds (default: {default_length(spec)}); at most {info.max_duration:g} s "
            f"with {model_name}",
        )
    if "speed" in info.options:
        parser.add_argument(
            "--speed", type=float, help="speaking rate (default 1: the text's own timing)"
        )
    parser.add_argument(
        "-o", "--output", required=True, help="output audio file (stem-i.wav per batch item)"
    )
    from tokgen.pipeline import default_model

    parser.add_argument(
        "--model",
        default=default_model(task),
        help=f"model name or directory (default {default_model(task)})",
    )
    add_sampling_args(parser, seed=None, only=info.options)
    return parser


def _condition_help(task: str, condition: ConditionSpec) -> str:
    """What to pass: the spec's own words (or a built-in task's, for checkpoints saved
    before specs carried them), the type's, and how much audio the model reads."""
    ctype = condition_type(condition.type)
    meaning = condition_meaning(task, condition)
    text = meaning or ctype.cli_help or ctype.help
    if meaning and ctype.cli_help:
        text += f": {ctype.cli_help}"
    if condition.type == "audio" and condition.seconds and condition.window != "all":
        part = {"head": "its last", "random": "its first"}.get(condition.window, "")
        text += f"; the model reads {part} {condition.seconds:g} s"
    return _escape(text + ("" if condition.required else " (optional)"))


def _escape(text: str) -> str:
    """``text`` as argparse help (which %-formats it)."""
    return text.replace("%", "%%")


def _peek_model(rest: list[str], task: str | None) -> str:
    """The ``--model`` among a task's options (the task's default when there is none)."""
    from tokgen.pipeline import default_model

    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--model", default=default_model(task))
    return peek.parse_known_args(rest)[0].model


def register(commands: Any) -> None:
    """Add this group's sub-commands to the ``tokgen`` parser."""
    generate = commands.add_parser(
        "generate",
        help="generate audio with a codec LM (one sub-command per task of the model)",
        description="Generate audio. TASK is one of the model's tasks (the built-in ones: "
        f"{', '.join(BUILTIN_TASKS)}); `tokgen generate TASK --help [--model M]` lists its "
        "options, built from the model's own task spec.",
    )
    generate.add_argument("task", nargs="?", metavar="TASK", help="the task to run")
    generate.add_argument(
        "rest", nargs=argparse.REMAINDER, help="the task's options (see TASK --help)"
    )
    generate.set_defaults(func=cmd_generate)
