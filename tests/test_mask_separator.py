"""The mask separator (tokgen.separation): mixtures made on the fly, the network, training,
generate("lass", ...), the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import tokgen
from tokgen.cli import main
from tokgen.errors import TokgenError
from tokgen.eval.metrics import si_sdr
from tokgen.separation import MaskNet, MaskNetConfig, load_separator_net, save_separator
from tokgen.training.separation_training import (
    MixtureItems,
    SeparationDataConfig,
    load_separation_train_config,
    negative_si_sdr,
    train_separation,
)

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "separation" / "tiny.yaml"
SR = 16_000
CLASSES = {"low tone": 220.0, "high tone": 1760.0, "noise": None}


def _clip(freq: float | None, seed: int, seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    if freq is None:
        return (0.1 * rng.standard_normal(len(t))).astype(np.float32)
    wav = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.02 * rng.standard_normal()) * t)
    return (wav * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(1, 3) * t))).astype(np.float32)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """Four captioned clips of each of three classes (two tones far apart, noise)."""
    root = tmp_path_factory.mktemp("clips")
    rows = []
    for c, (name, freq) in enumerate(CLASSES.items()):
        for i in range(4):
            path = f"{name.replace(' ', '_')}{i}.wav"
            sf.write(root / path, _clip(freq, 10 * c + i), SR)
            rows.append({"path": path, "kind": "music" if freq else "sound_event",
                         "class": name, "captions": [f"a {name}", name]})  # fmt: skip
    out = root / "train.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def _queries(captions: list[str]) -> torch.Tensor:
    """Caption -> a fixed one-hot-ish embedding by class (no MiniLM in the fast tests)."""
    out = torch.zeros(len(captions), 384)
    for i, caption in enumerate(captions):
        out[i, next(k for k, name in enumerate(CLASSES) if name in caption)] = 1.0
    return out


def test_mixtures_hold_the_target_and_another_class_and_repeat_for_a_key(manifest):
    config = SeparationDataConfig(manifest=str(manifest), crop_seconds=0.5)
    items = MixtureItems(config, SR, _queries)
    for key in [(0, 1), (5, 2), (11, 3)]:
        item, again = items[key], items[key]
        assert all(torch.equal(item[k], again[k]) for k in item)
        rest = item["mixture"] - item["target"]
        assert item["mixture"].shape == (SR // 2,) and item["mixture"].abs().max() <= 0.9 + 1e-6
        assert item["target"].pow(2).mean() > 1e-5 and rest.pow(2).mean() > 1e-5
        assert item["query"].argmax() == list(CLASSES).index(items.rows[key[0]]["class"])
    assert not torch.equal(items[(0, 1)]["mixture"], items[(0, 2)]["mixture"])


def test_a_full_mask_gives_back_the_mixture_and_the_loss_is_si_sdr():
    torch.manual_seed(0)
    net = MaskNet(MaskNetConfig(width=16, layers=1))
    torch.nn.init.zeros_(net.out.weight)
    torch.nn.init.constant_(net.out.bias, 50.0)  # sigmoid -> 1 everywhere
    mixture = torch.randn(2, SR + 77) * 0.1  # an odd length survives the STFT round trip
    out = net(mixture, torch.zeros(2, 384))
    torch.testing.assert_close(out, mixture, atol=1e-5, rtol=1e-4)
    target = torch.randn(1, SR)
    estimate = target + 0.1 * torch.randn(1, SR)
    assert negative_si_sdr(estimate, target, 100.0).item() == pytest.approx(
        -si_sdr(target[0], estimate[0]),
        abs=1e-2,  # float32 training loss vs float64 metric
    )
    assert negative_si_sdr(target, target, 30.0).item() == -30.0  # clamped


def test_it_learns_to_separate_classes_it_is_asked_for(manifest, tmp_path):
    """150 steps of a small net on tone/noise mixtures: each queried source comes out > 3 dB
    better than the mixture on mixtures of clips it never saw."""
    config = load_separation_train_config(TINY, [
        f"data.manifest={manifest}", f"run.out_dir={tmp_path / 'run'}", "run.max_steps=150",
        "run.save_every=150", "run.log_every=50", "model.width=32", "model.layers=2",
        "data.batch_size=8", "ema.decay=0"])  # fmt: skip
    export = train_separation(config, _queries)
    net = load_separator_net(export).float().eval()
    gains = []
    for c, freq in enumerate(CLASSES.values()):
        other = list(CLASSES.values())[(c + 1) % 3]
        target, rest = (
            torch.from_numpy(_clip(freq, 100 + c)),
            torch.from_numpy(_clip(other, 200 + c)),
        )
        mixture = target + rest
        query = _queries([list(CLASSES)[c]])
        with torch.no_grad():
            out = net(mixture[None], query)[0]
        gains.append(si_sdr(target, out) - si_sdr(target, mixture))
    assert min(gains) > 3.0, gains


@pytest.fixture(scope="module")
def separator(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sep") / "model"
    save_separator(MaskNet(MaskNetConfig(width=16, layers=1)), path)
    return tokgen.load(str(path))


def test_a_batch_equals_its_items_and_keeps_each_mixtures_length(separator):
    t = torch.arange(SR) / SR
    a, b = 0.3 * torch.sin(2 * math.pi * 440 * t), 0.1 * torch.randn(SR + SR // 2)
    batch = separator.generate("lass", ["a tone", "noise"], audio=[a, b], sample_rate=SR)
    assert batch.lengths == [SR, SR + SR // 2] and batch.audio.shape == (2, 1, SR + SR // 2)
    assert batch.codes.shape[:2] == (2, separator.codec.num_codebooks)
    for i, (query, mix) in enumerate([("a tone", a), ("noise", b)]):
        one = separator.generate("lass", query, audio=(mix, SR))
        torch.testing.assert_close(batch.audio[i, :, : one.lengths[0]], one.audio[0])
    assert batch.audio[0, 0, SR:].abs().max() == 0  # padding past the first mixture


def test_codes_are_the_outputs_tokens_computed_only_when_read(separator, monkeypatch):
    encode, calls = separator.codec.encode, []
    monkeypatch.setattr(
        separator.codec, "encode", lambda *a, **k: calls.append(1) or encode(*a, **k)
    )
    t = torch.arange(SR) / SR
    mixtures = [0.3 * torch.sin(2 * math.pi * 440 * t), 0.1 * torch.randn(SR // 2)]
    out = separator.generate("lass", ["a tone", "noise"], audio=mixtures, sample_rate=SR)
    assert calls == []  # no codec analysis unless codes are read
    codes = out.codes
    assert len(calls) == 2 and out.codes is codes  # once per item, then kept
    for i, length in enumerate(out.lengths):
        item = encode(out.audio[i : i + 1, :, :length], SR)[0]  # [K, F]
        assert torch.equal(codes[i, :, : item.shape[-1]], item)
        assert (codes[i, :, item.shape[-1] :] == -1).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.generate("tts", "Hi."), "only separates"),
        (lambda m: m.generate("lass", "speech"), "needs text= .* and audio="),
        (
            lambda m: m.generate("lass", "speech", audio=(torch.randn(SR), SR), temperature=0.5),
            "deterministic",
        ),
        (
            lambda m: m.generate("lass", "speech", audio=(torch.randn(SR), SR), duration=2.0),
            "mixture sets",
        ),
        (lambda m: m.generate("lass", " ", audio=(torch.randn(SR), SR)), "empty"),
        (lambda m: m.generate("lass", "speech", audio=(torch.zeros(100), SR)), "at least"),
    ],
)
def test_bad_inputs_name_the_problem(separator, call, message):
    with pytest.raises(TokgenError, match=message):
        call(separator)


def test_cli_trains_and_separates(manifest, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "separation", "--config", str(TINY), "--set", f"data.manifest={manifest}",
            "--set", f"run.out_dir={run}"]  # fmt: skip
    assert main(argv) == 0
    assert "written to" in capsys.readouterr().out
    out = tmp_path / "kept.wav"
    mixture = manifest.parent / "noise0.wav"
    argv = [
        "generate",
        "lass",
        "a low tone",
        "--audio",
        str(mixture),
        "--model",
        str(run / "model"),
    ]
    assert main([*argv, "-o", str(out)]) == 0
    assert sf.info(str(out)).frames == sf.info(str(mixture)).frames
    with pytest.raises(SystemExit):
        main(["generate", "lass", "--help", "--model", str(run / "model")])
    assert "--temperature" not in capsys.readouterr().out  # it takes none
