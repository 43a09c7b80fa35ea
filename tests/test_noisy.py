"""``tokgen data noisy``: noisy speech rows for the enhancement task, end to end."""

from __future__ import annotations

import json
import random

import soundfile as sf
import torch
from conftest import tone

from tokgen.cli import main
from tokgen.data.token_corpus import TokenCorpus
from tokgen.data.tokenize import tokenize_manifest
from tokgen.tasks import load_task
from tokgen.text import TextFrontend
from tokgen.training.examples import TaskExamples


def test_noisy_speech_rows_mix_and_tokenize(tmp_path, debug_codec):
    root = tmp_path / "corpus"
    (root / "audio").mkdir(parents=True)
    rows = []
    for i, kind in enumerate(["speech", "speech", "sound_event", "sound_event"]):
        sf.write(root / "audio" / f"{i}.wav", tone(0.8, freq=150 + 300 * i).T.numpy(), 16_000)
        rows.append({
            "id": f"{kind}-{i}", "kind": kind, "split": "train", "path": f"audio/{i}.wav",
            "sample_rate": 16_000, "duration": 0.8, "class": "speech" if kind == "speech" else "bell",
            "captions": ["a bell"], "transcript": "hello", "voice": "v",
        })  # fmt: skip
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = root / "train_noisy.jsonl"
    assert main(["data", "noisy", "--manifest", str(manifest), "--out", str(out)]) == 0
    noisy = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["kind"] for r in noisy] == ["noisy_speech", "noisy_speech"]
    for row in noisy:
        mix, _ = sf.read(root / row["path"])
        clean, _ = sf.read(root / row["clean_path"])
        noise, _ = sf.read(root / row["sources"][1]["path"])
        assert abs(mix - clean - noise).max() < 2e-4  # the sources sum to the mixture
        assert (
            0 <= row["sources"][1]["snr_db"] <= 15
            and row["clean_path"] == row["sources"][0]["path"]
        )
    first = out.read_text()
    assert main(["data", "noisy", "--manifest", str(manifest), "--out", str(out)]) == 0
    assert out.read_text() == first  # deterministic, resumable
    tokens = tmp_path / "tokens"
    tokenize_manifest(debug_codec, out, tokens, with_sources=True, progress=False)
    task = load_task("lm/tasks/enhance.yaml")
    examples = TaskExamples(task, TokenCorpus(tokens), TextFrontend())
    assert len(examples) == 2
    example = examples.draw(random.Random(0))
    assert example.conditions["audio"].shape == example.target.shape
    assert not torch.equal(example.conditions["audio"], example.target)
