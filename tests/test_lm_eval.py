"""The judge and ``tokgen eval tts|tta|lass|enhance|continuation`` on tiny data and the debug
model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import tone

import tokgen
from tokgen.cli import main
from tokgen.eval import lm_eval
from tokgen.eval.judge import JudgeConfig, frechet_distance, judge_accuracy, load_judge, train_judge

SR = 16_000


def _wav(root: Path, name: str, seconds: float, freq: float) -> str:
    sf.write(root / name, tone(seconds, SR, freq).T.numpy(), SR)
    return name


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evalcorpus")
    rows = []
    for i in range(4):
        rows.append({
            "id": f"speech-{i}", "kind": "speech", "class": "speech", "engine": "flite",
            "voice": f"flite-v{i % 2}", "transcript": "the cat sat", "duration": 2.6,
            "path": _wav(root, f"s{i}.wav", 2.6, 120 + 60 * (i % 2)), "captions": ["speech"],
        })  # fmt: skip
    for i, (kind, name) in enumerate([("music", "flute"), ("sound_event", "bell")] * 2):
        rows.append({
            "id": f"{kind}-{i}", "kind": kind, "class": name, "duration": 2.6,
            "path": _wav(root, f"c{i}.wav", 2.6, 600 if name == "flute" else 1500),
            "captions": [f"a {name}", f"the sound of a {name}"],
        })  # fmt: skip
    sources = [
        {"path": _wav(root, f"x-s{j}.wav", 1.0, 300 + 500 * j), "query": ["a flute", "a bell"][j]}
        for j in range(2)
    ]
    rows.append({
        "id": "mixture-0", "kind": "mixture", "class": "flute + bell", "duration": 1.0,
        "path": _wav(root, "x.wav", 1.0, 450), "sources": sources,
    })  # fmt: skip
    manifest = root / "test.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


@pytest.fixture(scope="module")
def judge(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("judge")
    config = JudgeConfig(channels=(4, 8), embedding_dim=8, seconds=0.5)
    train_judge(corpus, out, steps=200, batch_size=8, lr=3e-3, config=config, progress=False)
    return out


def test_judge_trains_saves_and_scores(corpus, judge):
    model = load_judge(judge)
    assert model.config.classes == ["bell", "flute", "speech"]
    assert model.config.voices == ["flite-v0", "flite-v1"]
    result = judge_accuracy(model, corpus)
    assert result.clips == 8 and result.classes_seen == 3 and result.voice_clips == 4
    assert result.class_accuracy >= 0.75  # three well-separated tones after 200 steps


def test_noise_floor_augmentation_adds_noise_at_the_asked_level(corpus, judge):
    import random

    from tokgen.eval.judge import add_noise_floor

    silent = torch.zeros(64, 16_000)
    out = add_noise_floor(silent, (-60.0, -50.0), random.Random(0), share=0.5)
    levels = 10 * torch.log10(out.pow(2).mean(1).clamp(min=1e-20))
    noisy = levels > -100
    assert 16 < int(noisy.sum()) < 48  # about half the items
    assert ((levels[noisy] > -60.5) & (levels[noisy] < -49.5)).all()
    again = add_noise_floor(silent, (-60.0, -50.0), random.Random(0), share=0.5)
    torch.testing.assert_close(out, again)  # seeded
    clean = judge_accuracy(load_judge(judge), corpus)
    loud = judge_accuracy(load_judge(judge), corpus, noise_db=-10.0)
    assert loud.clips == clean.clips and loud.class_accuracy <= clean.class_accuracy


def test_frechet_distance():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 4, generator=g), torch.randn(400, 4, generator=g)
    assert frechet_distance(a, b) < 0.2
    assert frechet_distance(a, b + 3.0) == pytest.approx(36.0, rel=0.1)


@pytest.mark.parametrize("task", ["tts", "tta", "lass", "continuation"])
def test_task_evaluations_run_on_the_debug_model(corpus, judge, task):
    model = tokgen.load("tokgen-lm-debug")
    if task == "lass":
        result = lm_eval.eval_lass(model, corpus, limit=1)
        assert result.items == 2 and set(result.scores) == {
            "si_sdri",
            "resynthesis_si_sdri",
            "ceiling_mask_si_sdri",
            "ceiling_resynthesis_si_sdri",
            "ideal_mask_si_sdri",
        }
        scores = result.scores
        assert scores["si_sdri"] != scores["resynthesis_si_sdri"]  # the mixture is masked
        assert scores["ideal_mask_si_sdri"] > max(0.0, scores["ceiling_mask_si_sdri"])
        assert [len(panels) for _, panels in result.examples] == [4, 4]
        return
    run = {
        "tts": lm_eval.eval_tts,
        "tta": lm_eval.eval_tta,
        "continuation": lm_eval.eval_continuation,
    }
    result = run[task](model, load_judge(judge), corpus, limit=2)
    assert result.items == 2 and len(result.per_item) == 2
    expected = {
        "tts": {
            "wer_generated",
            "wer_real",
            "voice_similarity",
            "same_voice_rate",
            "same_voice_real",
        },
        "tta": {
            "class_accuracy",
            "classes",
            "frechet_distance",
            "real_class_accuracy",
            "ceiling_class_accuracy",
        },
        "continuation": {"consistency"},
    }[task]
    assert set(result.scores) == expected
    assert all(v == v for v in result.scores.values())  # no NaN
    assert task in lm_eval.format_result(result)
    assert result.examples and all(len(panels) >= 2 for _, panels in result.examples)
    if task == "tts":  # and per voice, adding up to the whole
        groups = result.groups
        assert set(groups) == {p["voice"] for p in result.per_item}
        assert sum(g["items"] for g in groups.values()) == 2
        rate = sum(g["same_voice_rate"] * g["items"] for g in groups.values()) / 2
        assert rate == pytest.approx(result.scores["same_voice_rate"])
        assert "| group | items | wer_generated |" in lm_eval.format_result(result)


def test_eval_cli(corpus, judge, tmp_path, capsys):
    out = tmp_path / "tta.json"
    argv = ["eval", "tta", "--model", "tokgen-lm-debug", "--manifest", str(corpus)]
    assert main([*argv, "--judge", str(judge), "--limit", "2", "--json", str(out)]) == 0
    assert "class_accuracy" in capsys.readouterr().out
    assert json.loads(out.read_text())["task"] == "tta"
    report = (tmp_path / "tta.md").read_text()
    pictures = sorted(tmp_path.glob("tta-*.png"))
    assert len(pictures) == 2 and "| class_accuracy |" in report  # --limit 2: two items
    assert all(f"]({p.name})" in report for p in pictures)


def test_a_diffusion_model_runs_the_tta_and_continuation_evaluations(corpus, judge, tmp_path):
    model = tokgen.load("tokgen-diffusion-debug")
    result = lm_eval.eval_tta(model, load_judge(judge), corpus, limit=2, steps=2)
    assert result.items == 2 and 0 <= result.scores["ceiling_class_accuracy"] <= 1
    fresh = tmp_path / "fresh.jsonl"
    rows = [{"caption": "a little bell", "class": "bell"}, {"caption": "flute", "class": "flute"}]
    fresh.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = lm_eval.eval_tta(model, load_judge(judge), corpus, captions=fresh, steps=2)
    assert [p["class"] for p in result.per_item] == ["bell", "flute"]
    kinds = ("music", "sound_event")
    result = lm_eval.eval_continuation(model, load_judge(judge), corpus, kinds=kinds, steps=2)
    assert result.items == 4  # the four music and event clips, no speech


class _Oracle:
    """A stand-in model whose ``enhance`` output is the clean speech's codes: its scores must
    equal the ceilings (the clean speech through the codec)."""

    def __init__(self, codec, clean: torch.Tensor) -> None:
        self.codec, self.sample_rate, self.clean, self.calls = codec, SR, clean, []

    def generate(self, task, text=None, *, audio, seed, **sampling):
        from tokgen.pipeline import GenerationOutput

        self.calls.append((task, audio[0].shape[-1], sampling))
        codes = self.codec.encode(self.clean, SR)  # [1, K, F]
        return GenerationOutput(torch.zeros(1, 1, 1), SR, codes, [self.clean.shape[-1]])


def test_enhance_scores_the_generated_speech_as_a_mask_and_resynthesized(tmp_path, debug_codec):
    clean, noise = (
        tone(1.0, SR, 200)[0],
        0.3 * torch.randn(SR, generator=torch.Generator().manual_seed(0)),
    )
    for name, wav in [("n.wav", clean + noise), ("n-s0.wav", clean), ("n-s1.wav", noise)]:
        sf.write(tmp_path / name, wav.numpy(), SR)
    row = {
        "id": "noisy-0", "kind": "noisy_speech", "path": "n.wav", "clean_path": "n-s0.wav",
        "duration": 1.0, "sources": [{"path": "n-s0.wav", "snr_db": 0.0, "query": "speech"},
                                     {"path": "n-s1.wav", "snr_db": 5.0, "query": "noise"}],
    }  # fmt: skip
    manifest = tmp_path / "test_noisy.jsonl"
    manifest.write_text(json.dumps(row) + "\n")
    oracle = _Oracle(debug_codec, clean)
    result = lm_eval.eval_enhance(oracle, manifest, top_k=5)
    assert oracle.calls == [("enhance", SR, {"top_k": 5})]
    assert result.items == 1 and result.per_item[0]["snr_db"] == 5.0
    scores = result.scores
    assert scores["si_sdri"] == pytest.approx(scores["ceiling_mask_si_sdri"], abs=1e-4)
    assert scores["resynthesis_si_sdri"] == pytest.approx(
        scores["ceiling_resynthesis_si_sdri"], abs=1e-4
    )
    assert scores["ideal_mask_si_sdri"] > 3.0  # the tone is easy to pull out of the noise
    lass = lm_eval.eval_lass(oracle, manifest)  # a noisy row is a mixture of two sources
    assert [p["id"] for p in lass.per_item] == ["noisy-0/0", "noisy-0/1"]
