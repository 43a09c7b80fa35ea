"""The bad inputs of issue 13 item 6: each raises a TokgenError naming the problem and the fix,
before any model work; the CLI prints one line, exits non-zero and leaves no partial file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokgen
from tokgen import audio
from tokgen.checks import integer, number
from tokgen.cli import main
from tokgen.errors import InvalidAudioError, InvalidInputError, TokgenError
from tokgen.lm.sampling import SamplingParams, generators_for


@pytest.fixture(scope="module")
def model():
    return tokgen.load("tokgen-lm-debug")


def tta(model, **kwargs):
    return model.generate("tta", "rain on a roof", **{"duration": 0.2, "seed": 0, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": 2**70}, "seed must be"),
        ({"seed": -1}, "seed must be"),
        ({"seed": True}, "seed must be an integer"),
        ({"top_k": 1.5}, "top_k must be an integer"),
        ({"cfg_scale": "3"}, "cfg_scale must be a number"),
        ({"temperature": float("nan")}, "temperature must be finite"),
        ({"top_p": 0}, "top_p must be in"),
        ({"cfg_scale": 1.5e38}, "cfg_scale must be in"),  # found by the property test
        ({"temperature": 1e9}, "temperature must be in"),
        ({"duration": True}, "duration must be between"),
        ({"duration": 99.0}, "duration must be between"),
        ({"duration": "2"}, "duration must be between"),
    ],
)
def test_bad_sampling_arguments_raise_clear_errors(model, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        tta(model, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": np.int64(3)},
        {"seed": torch.tensor(3)},
        {"duration": np.float32(0.2)},
        {"duration": torch.tensor(0.2)},
        {"top_k": np.int32(5), "cfg_scale": np.float64(2.0), "temperature": torch.tensor(0.5)},
        {"temperature": 1e-300},  # greedy: dividing by it would overflow
    ],
)
def test_numpy_and_torch_numbers_work(model, kwargs):
    out = tta(model, **kwargs)
    assert out.audio.shape[0] == 1


def test_numpy_seed_equals_python_seed(model):
    assert torch.equal(tta(model, seed=np.int64(7)).codes, tta(model, seed=7).codes)


def test_long_caption_is_refused(model):
    with pytest.raises(InvalidInputError, match="characters long"):
        model.generate("tta", "rain " * 2000, duration=0.2)


def test_fractional_sample_rate_is_refused():
    with pytest.raises(InvalidAudioError, match="positive integer"):
        audio.load(torch.zeros(1600), 16_000.5)
    assert audio.load(torch.zeros(1600), np.int64(16_000)).sample_rate == 16_000


def test_bandwidth_above_the_codec_is_refused():
    codec = tokgen.load_codec("tokgen-codec-debug")
    with pytest.raises(InvalidInputError, match="above what"):
        codec.encode(torch.zeros(1600), 16_000, bandwidth=100)
    with pytest.raises(InvalidInputError, match="num_codebooks must be an integer"):
        codec.encode(torch.zeros(1600), 16_000, num_codebooks=1.5)


def test_overlong_prompt_names_the_models_limit_not_the_env_variable(model, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(16_000 * 12, np.float32), 16_000)
    with pytest.raises(InvalidAudioError) as err:
        model.generate("continuation", audio=str(long), duration=0.2)
    assert "TOKGEN_MAX_AUDIO_SECONDS" not in str(err.value)
    assert "shorter clip" in str(err.value)


def cli_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tokgen: error: ") and err.count("\n") == 1  # one line, no traceback
    return err


def test_encode_to_a_folder_or_a_wrong_suffix_fails_first(tmp_path, wav_file, capsys):
    folder = tmp_path / "some_dir"
    folder.mkdir()
    debug = ["--codec", "tokgen-codec-debug"]
    assert "is a folder" in cli_error(["encode", str(wav_file), "-o", str(folder), *debug], capsys)
    for name in ("out.txt", "x.wav"):
        err = cli_error(["encode", str(wav_file), "-o", str(tmp_path / name), *debug], capsys)
        assert "end in .tokens" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["some_dir", "tone.wav"]  # no partial
    assert list(folder.iterdir()) == []


def test_generate_to_a_wrong_suffix_fails_before_generating(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tokgen, "load", lambda *a, **k: pytest.fail("loaded a model"))
    argv = [
        "generate",
        "tta",
        "rain",
        "-o",
        str(tmp_path / "out.txt"),
        "--model",
        "tokgen-lm-debug",
    ]
    assert "end in .wav" in cli_error(argv, capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_one_sample_file_is_refused_by_encode(tmp_path, capsys):
    one = tmp_path / "one.wav"
    sf.write(one, np.zeros(1, np.float32), 16_000)
    argv = ["encode", str(one), "-o", str(tmp_path / "o.tokens"), "--codec", "tokgen-codec-debug"]
    assert "less than one" in cli_error(argv, capsys)


def test_checks_accept_numbers_of_every_kind():
    assert integer("n", np.int16(4), low=0) == 4 and integer("n", torch.tensor(4)) == 4
    assert number("x", np.float32(0.5)) == 0.5 and number("x", 3) == 3.0
    for bad in (True, "4", 4.5, None, [4]):
        with pytest.raises(InvalidInputError):
            integer("n", bad)
    assert SamplingParams(np.float64(0.7), np.int64(3), torch.tensor(0.9)).top_k == 3
    assert len(generators_for(np.int64(5), 2)) == 2


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.one_of(
        st.none(), st.integers(-5, 2**64), st.floats(allow_nan=True), st.text(max_size=3)
    ),
    top_k=st.one_of(st.integers(-3, 2000), st.floats(allow_nan=True), st.booleans()),
    cfg=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=2)),
    duration=st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-2, 30), st.booleans()),
)
def test_generate_arguments_fail_only_with_tokgen_errors(model, seed, top_k, cfg, duration):
    """Property: any mix of these arguments either generates or raises a TokgenError."""
    try:
        out = model.generate(
            "tta", "birdsong", duration=duration, seed=seed, top_k=top_k, cfg_scale=cfg
        )
    except TokgenError:
        return
    assert torch.isfinite(out.audio).all()


def test_guidance_on_a_task_without_dropout_warns(model, wav_file):
    import dataclasses
    import warnings

    from tokgen.pipeline import TokgenModel, debug_lm

    lm = debug_lm()  # a model whose tts was trained without condition dropout
    tts = lm.task_specs["tts"]
    undroppable = tuple(dataclasses.replace(c, dropout=0.0) for c in tts.conditions)
    lm.task_specs["tts"] = dataclasses.replace(tts, conditions=undroppable)
    model = TokgenModel(lm, model.codec, "no-dropout")
    args = {"prompt_audio": str(wav_file), "duration": 0.3, "seed": 0}
    with pytest.warns(UserWarning, match="no effect"):
        guided = model.generate("tts", "Good morning.", cfg_scale=2.0, **args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default (None) is silent
        plain = model.generate("tts", "Good morning.", **args)
    assert torch.equal(guided.codes, plain.codes)  # nothing to guide against: unguided


def test_guidance_changes_tts(model, wav_file):
    """The built-in tts is trained with text and prompt dropout, so guidance acts on it."""
    args = {"prompt_audio": str(wav_file), "duration": 0.6, "seed": 0, "temperature": 0}
    plain = model.generate("tts", "Good morning.", cfg_scale=1.0, **args)
    guided = model.generate("tts", "Good morning.", cfg_scale=3.0, **args)
    assert not torch.equal(guided.codes, plain.codes)


def test_the_progress_bar_ends_full(model, monkeypatch):
    import tokgen.lm.generate as generate

    bars = []

    class Recorder:
        def __init__(self, *args, total=0, **kwargs):
            self.total, self.n = total, 0
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def refresh(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(generate, "tqdm", Recorder)
    out = model.generate(
        "tts", "Hi.", prompt_audio=str(audio.SAMPLE_SPEECH), duration=10.0, seed=1, progress=True
    )
    assert out.codes.shape[-1] < 500  # the end token came early (seeded)...
    assert bars and bars[0].n == bars[0].total < 500  # ...and the bar ends full there
