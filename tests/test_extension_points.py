"""The seams: a new condition type, a new decoder, tasks that belong to their model, and
``device=``: each is one class plus one registration line, shown here with toys."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from conftest import tone

import tokgen
from tokgen.cli import main
from tokgen.conditions import (
    CONDITION_TYPES,
    ConditionType,
    Kind,
    Special,
    register_condition_type,
)
from tokgen.decoders import DECODERS, Decoder, register_decoder
from tokgen.errors import ConfigError, InvalidInputError
from tokgen.lm.checkpoint import load_lm, save_lm
from tokgen.lm.config import LMConfig
from tokgen.lm.model import CodecLM
from tokgen.pipeline import TokgenModel, debug_lm, write_model_index
from tokgen.tasks import ConditionSpec, TargetSpec, TaskSpec, builtin_task

SR = 16_000


class DigitsCondition(ConditionType):
    """A toy type: an integer, laid out as one text position per digit (ids 1-10)."""

    name = "digits"
    help = "a non-negative integer"
    slot = 0

    def from_argument(self, spec, value, ctx):
        if not isinstance(value, int) or value < 0:
            raise InvalidInputError(f"{spec.name} must be a non-negative integer.")
        return [int(d) + 1 for d in str(value)]

    def present(self, spec, value, ctx):
        return isinstance(value, int)

    def from_row(self, spec, value, ctx):
        return [int(d) + 1 for d in str(value)]

    def lay_out(self, spec, value, out):
        for token in value:
            out.add(Kind.TEXT, token)


@pytest.fixture
def digits():
    ctype = register_condition_type(DigitsCondition())  # the one registration line
    yield ctype
    del CONDITION_TYPES["digits"]


def test_a_new_condition_type_is_one_class_and_one_registration(digits, debug_codec):
    count = TaskSpec(
        "count", (ConditionSpec("n", "digits", field="number"),), TargetSpec(length="duration")
    )
    config = LMConfig(
        codec="tokgen-codec-debug", num_codebooks=4, cardinality=64, d_model=32, n_heads=2,
        ar_layers=1, nar_layers=1, tasks=["tts", "count"], extra_markers=2,
    )  # fmt: skip
    torch.manual_seed(0)
    model = TokgenModel(CodecLM(config, {"count": count}), debug_codec, "toy")
    prefix = model.prefix(count, {"n": [5, 3]})
    marker = Special.FIRST_TASK + config.max_tasks + digits.slot  # after every task id
    assert prefix.ids[:2].tolist() == [Special.FIRST_TASK + 1, marker]
    assert prefix.kinds.tolist() == [Kind.SPECIAL, Kind.SPECIAL, Kind.TEXT, Kind.TEXT, Kind.SPECIAL]
    out = model.generate("count", n=42, duration=0.3, seed=0)
    assert out.codes.shape == (1, 4, 15)
    with pytest.raises(InvalidInputError, match="non-negative"):
        model.generate("count", n=-1, duration=0.3)


def test_a_marker_slot_must_be_reserved_and_free(digits):
    redefined = TaskSpec("tts", (ConditionSpec("n", "digits", field="number"),))
    lm = debug_lm()  # a model that reserved no marker (extra_markers=0)
    lm.task_specs["tts"] = redefined
    model = TokgenModel(lm, tokgen.load_codec("tokgen-codec-debug"), "no-slots")
    with pytest.raises(ConfigError, match="reserves 0 slot"):
        model.prefix(redefined, {"n": [1]})

    class Clash(DigitsCondition):
        name = "clash"

    with pytest.raises(ConfigError, match="marker of 'digits'"):
        register_condition_type(Clash())


def test_tasks_belong_to_their_model(tmp_path):
    """Two models that define the same task name differently do not overwrite each other."""
    a = debug_lm()
    b = debug_lm()
    b.task_specs["tta"] = TaskSpec(
        "tta", (ConditionSpec("caption", "embedding", field="captions"),)
    )
    save_lm(b, tmp_path / "b")
    loaded_b = load_lm(tmp_path / "b")
    assert loaded_b.task_specs["tta"].conditions[0].name == "caption"
    assert a.task_specs["tta"] == builtin_task("tta")  # untouched by loading b
    codec = tokgen.load_codec("tokgen-codec-debug")
    with pytest.raises(
        InvalidInputError, match=r"does not take \['text'\]; it takes \['caption'\]"
    ):
        TokgenModel(loaded_b, codec).generate("tta", "rain")


class ToneDecoder(Decoder):
    """A toy decoder: a sine whose pitch follows the first codebook, and it sees the
    caller's arguments (as a mask-based separator would see the mixture)."""

    def __init__(self, options: dict[str, Any], hop_length: int) -> None:
        self.sample_rate, self.channels, self.hop_length = SR, 1, hop_length
        self.base = float(options.get("base", 100.0))
        self.seen: list[dict[str, Any]] = []

    def decode(self, codes, arguments):
        self.seen.append(arguments)
        freq = self.base + codes[0].float().repeat_interleave(self.hop_length)  # [T]
        return torch.sin(torch.cumsum(2 * torch.pi * freq / SR, 0))[None]


def test_a_new_decoder_is_one_class_and_one_registration(tmp_path):
    register_decoder("tone", lambda options, folder, codec: ToneDecoder(options, codec.hop_length))
    try:
        save_lm(debug_lm(), tmp_path / "lm")
        write_model_index(tmp_path, decoder={"type": "tone", "base": 200})
        model = tokgen.load(tmp_path)
        audio = (tone(1.0, SR), SR)
        out = model.generate("continuation", audio=audio, duration=0.2, seed=0)
        assert isinstance(model.decoder, ToneDecoder) and model.decoder.base == 200
        assert model.decoder.seen[0]["audio"] is audio
        expected = model.decoder.decode(out.codes[0], {})
        torch.testing.assert_close(out.audio[0], expected)
        assert "tts" in tokgen.pipeline.model_info(tmp_path).tasks
    finally:
        del DECODERS["tone"]
    with pytest.raises(ConfigError, match="unknown decoder 'tone'"):
        tokgen.load(tmp_path)


def test_device(tmp_path):
    model = tokgen.load("tokgen-lm-debug", device="cpu")
    assert next(model.lm.parameters()).device.type == "cpu"
    with pytest.raises(InvalidInputError, match="cuda:0"):
        tokgen.load("tokgen-lm-debug", device="a gpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="no CUDA GPU"):
            tokgen.load("tokgen-lm-debug", device="cuda")
    else:  # on a GPU machine: the same codes as on the CPU
        gpu = tokgen.load("tokgen-lm-debug", device="cuda")
        kwargs = {"audio": (tone(1.0, SR), SR), "duration": 0.3, "seed": 0}
        torch.testing.assert_close(
            gpu.generate("continuation", **kwargs).codes,
            model.generate("continuation", **kwargs).codes,
        )


def test_generate_help_comes_from_the_model(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "lass", "--help", "--model", "tokgen-lm-debug"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "the mixture to separate" in text and "at most 10 s" in text
    assert "a random one" in text and "lass: a text query" in text
    assert main(["generate", "karaoke", "--model", "tokgen-lm-debug", "-o", "x.wav"]) == 2
    assert "does ['continuation', 'lass', 'tta', 'tts']" in capsys.readouterr().err


def test_a_type_without_a_slot_and_reserved_condition_names_are_refused():
    class Slotless(DigitsCondition):
        name = "slotless"
        slot = None

    with pytest.raises(ConfigError, match="needs a marker"):
        register_condition_type(Slotless())
    from tokgen.tasks import task_from_dict

    for names in (["seed"], ["duration"], ["prompt_audio", "prompt"], ["two words"]):
        raw = {
            "name": "bad",
            "conditions": [{"name": n, "type": "text", "field": "x"} for n in names],
        }
        with pytest.raises(ConfigError, match="identifiers and not"):
            task_from_dict(raw)
