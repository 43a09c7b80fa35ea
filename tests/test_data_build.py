"""``tokgen data build``: fields of every kind, determinism, resume, disjoint splits."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tokgen.cli import main
from tokgen.data import build, midi, render, system_tools
from tokgen.data.build import SPLITS, build_corpus, plan_corpus
from tokgen.data.sentences import sentence
from tokgen.data.voices import VOICE_BY_ID
from tokgen.errors import InvalidInputError, MissingDependencyError, TokgenError

HOURS = 0.01  # four clips of each kind


def read_rows(root: Path) -> list[dict]:
    rows = []
    for split in SPLITS:
        text = (root / f"{split}.jsonl").read_text()
        rows += [json.loads(line) for line in text.splitlines() if line]
    return rows


def digest(root: Path) -> dict[str, str]:
    """Manifest text and audio bytes, hashed per file."""
    files = [root / f"{split}.jsonl" for split in SPLITS] + sorted(root.glob("audio/*/*.wav"))
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    build_corpus(root, hours=HOURS, seed=3, jobs=2)
    return root


def test_every_kind_has_its_fields(corpus):
    rows = read_rows(corpus)
    kinds = {row["kind"] for row in rows}
    assert kinds == {"speech", "music", "sound_event", "mixture"}
    for row in rows:
        path = corpus / row["path"]
        data, rate = sf.read(path)
        assert rate == row["sample_rate"] == 16_000 and data.ndim == 1
        assert len(data) == row["num_samples"] and row["duration"] == pytest.approx(
            len(data) / rate, abs=1e-3
        )
        assert 0.01 < np.abs(data).max() < 1.0
        assert row["split"] in SPLITS and row["id"] in row["path"]
        assert row["captions"] and all(isinstance(c, str) and c for c in row["captions"])
        if row["kind"] == "speech":
            voice = VOICE_BY_ID[row["voice"]]
            assert row["engine"] == voice.engine and row["class"] == "speech"
            assert row["transcript"][-1] in ".?" and len(row["transcript"].split()) >= 3
            assert 0.5 < row["duration"] < 15
        elif row["kind"] in ("music", "sound_event"):
            assert row["class"] and row["engine"] in ("fluidsynth", "freedesktop")
            if row["engine"] == "fluidsynth":
                assert row["duration"] == pytest.approx(row["params"]["seconds"], abs=0.01)
        else:
            assert row["engine"] == "mix" and 2 <= len(row["sources"]) <= 3
            classes = [source["class"] for source in row["sources"]]
            assert len(set(classes)) == len(classes)
            total = sum(sf.read(corpus / source["path"])[0] for source in row["sources"])
            np.testing.assert_allclose(total, data, atol=2e-4)  # sources sum to the mixture
            for source in row["sources"]:
                assert source["query"] and -5 <= source["snr_db"] <= 5
    summary = json.loads((corpus / "summary.json").read_text())
    assert summary["clips"] == len(rows) and summary["failed"] == 0
    assert set(summary["hours_per_kind"]) == kinds


def test_same_seed_same_corpus(corpus, tmp_path):
    build_corpus(tmp_path, hours=HOURS, seed=3, jobs=1)
    assert digest(tmp_path) == digest(corpus)


def test_other_seed_other_corpus():
    texts = lambda seed: [r.get("transcript") for r in plan_corpus(HOURS, seed)]  # noqa: E731
    assert texts(3) != texts(4)


def test_resume_after_an_interrupted_build(corpus, tmp_path, monkeypatch):
    real = render.render_clip
    calls = []

    def flaky(row, root):
        calls.append(row["id"])
        if len(calls) == 5:
            raise KeyboardInterrupt  # a kill mid-build
        real(row, root)

    monkeypatch.setattr(build, "render_clip", flaky)
    with pytest.raises(KeyboardInterrupt):
        build_corpus(tmp_path, hours=HOURS, seed=3, jobs=1)
    stale = tmp_path / "audio/speech/.render-x"  # what a killed renderer leaves
    stale.mkdir(parents=True)
    monkeypatch.setattr(build, "render_clip", real)
    report = build_corpus(tmp_path, hours=HOURS, seed=3, jobs=1)
    assert report.skipped == 4 and not stale.exists()
    assert digest(tmp_path) == digest(corpus)


def test_failed_clips_are_reported_and_the_rest_kept(tmp_path, monkeypatch):
    real = render.render_clip

    def failing(row, root):
        if row["id"] == "music-000001":
            raise RuntimeError("fluidsynth crashed")
        real(row, root)

    monkeypatch.setattr(build, "render_clip", failing)
    with pytest.raises(TokgenError, match=r"1 clip.*music-000001: RuntimeError: fluidsynth"):
        build_corpus(tmp_path, hours=HOURS, seed=3, jobs=1)
    ids = {row["id"] for row in read_rows(tmp_path)}
    assert "music-000001" not in ids and "music-000000" in ids
    assert json.loads((tmp_path / "summary.json").read_text())["failed"] == 1


def test_other_settings_in_the_same_folder_are_refused(corpus):
    with pytest.raises(InvalidInputError, match="same --hours and --seed"):
        build_corpus(corpus, hours=HOURS, seed=4)


def test_splits_are_disjoint_and_hold_out_a_voice_and_an_instrument():
    plan = plan_corpus(1.0, seed=0)
    by_split: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for row in plan:
        keys = by_split[row["split"]]
        keys["transcript"].add(row.get("transcript"))
        keys["midi_seed"].add(row["params"].get("midi_seed"))
        keys["mixture"].add(row["id"] if row["kind"] == "mixture" else None)
        keys["voice"].add(row.get("voice"))
        keys["class"].add(row["class"])
        for source in row.get("sources", []):
            member = next(r for r in plan if r["id"] == source["id"])
            assert member["split"] == row["split"]
    assert set(by_split) == set(SPLITS)
    for key in ("transcript", "midi_seed", "mixture"):
        for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
            assert not (by_split[a][key] & by_split[b][key]) - {None}, key
    seen_outside_test = by_split["train"]["voice"] | by_split["valid"]["voice"]
    assert {"flite-awb", "espeak-en-sc"} & by_split["test"]["voice"]
    assert not {"flite-awb", "espeak-en-sc"} & seen_outside_test
    classes_outside_test = by_split["train"]["class"] | by_split["valid"]["class"]
    assert not set(build.HELD_OUT_INSTRUMENTS) & classes_outside_test
    assert set(build.HELD_OUT_INSTRUMENTS) & by_split["test"]["class"]


def test_default_plan_meets_the_corpus_targets():
    plan = plan_corpus(7.0, seed=0)
    speech = [row for row in plan if row["kind"] == "speech"]
    voices = {row["voice"] for row in speech}
    classes = {row["class"] for row in plan if row["kind"] in ("music", "sound_event")}
    assert len(voices) >= 12 and len(classes) >= 30
    assert len({row["transcript"].lower() for row in speech}) == len(speech)


def test_sentences_vary():
    rng = random.Random(0)
    texts = [sentence(rng) for _ in range(500)]
    assert len(set(texts)) > 490
    assert len({text.split()[0] for text in texts}) > 30


def test_missing_package_names_the_apt_line(tmp_path, monkeypatch):
    monkeypatch.setattr(system_tools.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="apt-get install -y sox flite festival"):
        build_corpus(tmp_path, hours=HOURS)
    assert main(["data", "build", "--out", str(tmp_path), "--hours", "0.01"]) == 2


def test_cli_build(tmp_path, capsys):
    assert main(["data", "build", "--out", str(tmp_path), "--hours", "0.005", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "clips" in out and "hours per kind" in out
    assert (tmp_path / "train.jsonl").is_file()


def test_notes_fold_into_the_playable_range():
    notes = [midi.Note(0, 1, key, 80) for key in (20, 40, 70, 90)]
    keys = [note.key for note in midi.fold_into_range(notes, "contrabass")]
    assert keys == [32, 40, 58, 54]
    assert midi.fold_into_range(notes, "violin") == notes
