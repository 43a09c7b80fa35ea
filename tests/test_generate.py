"""``tokgen.load`` + ``model.generate`` on the tiny random model: shapes, batching, errors."""

from __future__ import annotations

import itertools
import math

import pytest
import soundfile as sf
import torch
from conftest import tone

import tokgen
from tokgen.errors import InvalidAudioError, InvalidInputError, PretrainedNotFoundError

SR = 16_000


@pytest.fixture(scope="module")
def model():
    return tokgen.load("tokgen-lm-debug")


def clip(seconds: float = 1.0, freq: float = 220.0):
    return (tone(seconds, SR, freq), SR)


@pytest.mark.parametrize(
    ("task", "kwargs", "frames"),
    [
        ("tts", {"text": "Good morning.", "prompt_audio": clip(), "duration": 0.4}, None),
        ("tta", {"text": "rain on a tin roof", "duration": 0.5}, 25),
        ("lass", {"text": "the flute", "audio": clip(0.8)}, 40),
        ("continuation", {"audio": clip(), "duration": 0.3}, 15),
    ],
)
def test_each_task_generates_audio_and_codes(model, task, kwargs, frames, tmp_path):
    out = model.generate(task, seed=0, **kwargs)
    f = out.lengths[0] // model.codec.hop_length
    assert out.codes.shape == (1, 4, max(f, 1)) and out.sample_rate == SR
    assert out.audio.shape[:2] == (1, 1) and out.audio.shape[2] >= out.lengths[0]
    if frames is not None:
        assert f == frames
    else:
        assert 1 <= f <= 20  # tts stops at its end token or the duration cap
    assert (out.codes[0, :, :f] >= 0).all() and (out.codes < 64).all()
    (written,) = out.save(tmp_path / "out.wav")
    assert sf.info(written).frames == out.lengths[0]


def test_batched_items_differ_in_duration_and_equal_one_by_one(model, tmp_path):
    texts = ["a dog barks", "a bell rings", "waves"]
    batched = model.generate("tta", texts, duration=[0.2, 0.6, 0.4], seed=7, cfg_scale=2.0)
    assert batched.lengths == [3200, 9600, 6400] and batched.codes.shape == (3, 4, 30)
    assert (batched.codes[0, :, 10:] == -1).all()
    for i, text in enumerate(texts):
        alone = model.generate("tta", text, duration=[0.2, 0.6, 0.4][i], seed=7 + i, cfg_scale=2.0)
        f = alone.codes.shape[2]
        assert torch.equal(batched.codes[i, :, :f], alone.codes[0]), i
    assert len(batched.save(tmp_path / "b.wav")) == 3


def test_seed_reproduces_and_sampling_options_apply(model):
    a = model.generate("tta", "birds", duration=0.4, seed=3)
    b = model.generate("tta", "birds", duration=0.4, seed=3)
    c = model.generate("tta", "birds", duration=0.4, seed=4)
    assert torch.equal(a.codes, b.codes) and not torch.equal(a.codes, c.codes)
    greedy = [model.generate("tta", "birds", duration=0.4, temperature=0, seed=s) for s in (1, 2)]
    assert torch.equal(greedy[0].codes, greedy[1].codes)
    top1 = model.generate("tta", "birds", duration=0.4, top_k=1, seed=9)
    assert torch.equal(top1.codes[:, 0], greedy[0].codes[:, 0])  # the AR codebook


def test_tts_is_not_cut_shorter_than_its_text_can_be_spoken(model):
    text = "a sentence of about fifty characters, said aloud."  # 50 characters -> >= 1.67 s
    lengths = [
        model.generate("tts", text, prompt_audio=clip(), duration=3.0, seed=s).lengths[0]
        for s in range(3)
    ]
    assert all(50 / 30 * SR - 320 <= n <= 3 * SR for n in lengths)


def test_cache_does_not_change_the_result(model):
    kwargs = {"text": "Hello.", "prompt_audio": clip(), "duration": 0.5, "seed": 1}
    assert torch.equal(
        model.generate("tts", **kwargs).codes,
        model.generate("tts", use_cache=False, **kwargs).codes,
    )


@pytest.mark.parametrize(
    ("task", "kwargs", "error", "match"),
    [
        ("karaoke", {"text": "x"}, InvalidInputError, "not trained for task"),
        ("tts", {"text": "Hello."}, InvalidInputError, "needs prompt_audio"),
        ("tts", {"prompt_audio": clip()}, InvalidInputError, "needs text"),
        ("tts", {"text": "   ", "prompt_audio": clip()}, InvalidInputError, "empty"),
        ("tts", {"text": "word " * 200, "prompt_audio": clip()}, InvalidInputError, "limit"),
        (
            "tts",
            {"text": "Hi.", "prompt_audio": clip(0.05)},
            InvalidInputError,
            "too short|at least",
        ),
        ("tts", {"text": "Hi.", "prompt_audio": clip(12.0)}, InvalidAudioError, "over the limit"),
        ("lass", {"text": "flute", "audio": clip(12.0)}, InvalidAudioError, "over the limit"),
        ("tta", {"text": "rain", "duration": 0.0}, InvalidInputError, "duration"),
        ("tta", {"text": "rain", "duration": 60.0}, InvalidInputError, "duration"),
        ("tta", {"text": "rain", "duration": math.nan}, InvalidInputError, "duration"),
        ("tta", {"text": ""}, InvalidInputError, "non-empty"),
        ("tta", {"text": "rain", "audio": clip()}, InvalidInputError, "does not take"),
        ("tta", {"text": ["a", "b"], "duration": [1.0]}, InvalidInputError, "one length"),
        ("tta", {"text": "rain", "cfg_scale": -1.0}, InvalidInputError, "cfg_scale"),
        ("tta", {"text": "rain", "top_p": 0.0}, InvalidInputError, "top_p"),
        ("continuation", {"audio": torch.ones(SR)}, InvalidAudioError, "sample rate"),
    ],
)
def test_bad_input_gets_a_clear_error(model, task, kwargs, error, match):
    with pytest.raises(error, match=match):
        model.generate(task, **kwargs)


def test_non_finite_audio_is_refused(model):
    wav = tone(1.0, SR)
    wav[0, 100] = math.nan
    with pytest.raises(InvalidAudioError, match="non-finite"):
        model.generate("continuation", audio=(wav, SR))


def test_unknown_model_and_untrained_task(model):
    with pytest.raises(PretrainedNotFoundError, match="neither a directory"):
        tokgen.load("tokgen-huge")
    with pytest.raises(InvalidInputError, match="not trained for task"):
        model.generate("only_here", "x")


def test_greedy_decoding_breaks_out_of_a_loop():
    from tokgen.lm.generate import LOOP_FRAMES

    looping = tokgen.load("tokgen-lm-debug")
    with torch.no_grad():  # every step's logits: token 7 first (p ~ 0.1), then the rest
        looping.lm.ar_head.weight.zero_()
        looping.lm.ar_head.bias.zero_()
        looping.lm.ar_head.bias[7] = 2.0
    out = looping.generate("tta", "hum", duration=4.0, temperature=0, seed=0)
    first = out.codes[0, 0].tolist()
    runs, run = [], 1
    for a, b in itertools.pairwise(first):
        run = run + 1 if a == b else 1
        runs.append(run)
    assert len(first) == 200 and max(runs) <= min(2 * LOOP_FRAMES, 100)  # greedy alone: 200
    assert first.count(7) > 0.8 * len(first)  # still mostly the greedy choice
    again = looping.generate("tta", "hum", duration=4.0, temperature=0, seed=0)
    assert torch.equal(out.codes, again.codes)  # the redraws follow the seed


def test_bench_tts_runs_side_by_side(model):
    from tokgen.eval.bench import bench_tts, format_lm_table

    bench = bench_tts(model, seconds=0.2, repeats=1, batch=2, busy=True)
    assert [r.setting for r in bench.rows] == [
        "LM, kv cache, batch 1",
        "LM, no cache, batch 1",
        "LM, kv cache, batch 2",
        "LM + decode, batch 1",
        "generate(), batch 1",
        "LM, kv cache, batch 1, one core busy",
        "generate(), batch 1, one core busy",
    ]
    assert bench.rows[0].relative == 1.0 and all(r.speedup > 0 for r in bench.rows)
    assert bench.bandwidth_gbs > 0.1 and bench.ar_weight_mb > 0 and bench.bound_speedup > 0
    assert "x realtime" in format_lm_table(bench)
