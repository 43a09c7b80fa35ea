"""``tokgen data import``: dataset layouts -> manifests, bad rows counted, reruns identical."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tokgen.cli import main
from tokgen.data.dataset_import import detect_format, import_dataset, split_of
from tokgen.data.example_voice import make_example_voice
from tokgen.errors import InvalidInputError

SR = 22_050


def write_tone(path, seconds=0.8, freq=220.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)


@pytest.fixture
def ljspeech(tmp_path):
    root = tmp_path / "LJSpeech-mini"
    lines = [
        "LJ001|Hello there, 2 dogs.|Hello there, two dogs.",
        "LJ002|Raw text only|",
        "LJ003|No audio file.|No audio file.",
        "LJ004|A text file named wav.|A text file named wav.",
        "LJ005||",
        "LJ006|Too short.|Too short.",
    ]
    (root / "wavs").mkdir(parents=True)
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    for name in ("LJ001", "LJ002", "LJ005"):
        write_tone(root / "wavs" / f"{name}.wav")
    (root / "wavs" / "LJ004.wav").write_text("not audio at all")
    write_tone(root / "wavs" / "LJ006.wav", seconds=0.1)
    return root


def test_ljspeech_rows_and_bad_rows(ljspeech, tmp_path):
    out = tmp_path / "data" / "lj.jsonl"
    report = import_dataset(ljspeech, out, progress=False)
    assert report.format == "ljspeech" and report.rows == 2
    assert sorted(f.id for f in report.failures) == ["LJ003", "LJ004", "LJ005", "LJ006"]
    reasons = {f.id: f.reason for f in report.failures}
    assert "not found" in reasons["LJ003"] and "empty transcript" in reasons["LJ005"]
    assert "shorter than" in reasons["LJ006"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    first = rows[0]
    assert first["id"] == "LJ001" and first["transcript"] == "Hello there, two dogs."
    assert rows[1]["transcript"] == "Raw text only"  # no normalized column: the raw text
    assert first["voice"] == "LJSpeech-mini" and first["kind"] == "speech"
    assert first["class"] == "speech" and first["sample_rate"] == SR
    assert first["engine"] == "imported"  # scored by `tokgen eval tts` like recorded speech
    assert first["duration"] == pytest.approx(0.8, abs=1e-3) and first["num_samples"] == 17_640
    assert (out.parent / first["path"]).resolve() == (ljspeech / "wavs" / "LJ001.wav").resolve()
    assert first["split"] in ("train", "valid")


def test_rerun_is_identical_and_splits_are_written(ljspeech, tmp_path):
    out = tmp_path / "lj.jsonl"
    import_dataset(ljspeech, out, valid_fraction=0.5, voice="lj", progress=False)
    first = out.read_bytes()
    import_dataset(ljspeech, out, valid_fraction=0.5, voice="lj", progress=False)
    assert out.read_bytes() == first
    train = (tmp_path / "lj.train.jsonl").read_text().splitlines()
    valid = (tmp_path / "lj.valid.jsonl").read_text().splitlines()
    assert len(train) + len(valid) == 2
    assert all(json.loads(r)["voice"] == "lj" for r in train + valid)
    assert split_of("LJ001", 0.5) == split_of("LJ001", 0.5)


def test_folder_layout_speech_and_captions(tmp_path):
    root = tmp_path / "mine"
    write_tone(root / "alice" / "a1.wav")
    (root / "alice" / "a1.txt").write_text("Good morning.\n")
    write_tone(root / "bob" / "b1.flac")
    (root / "bob" / "b1.txt").write_text("Good night.")
    write_tone(root / "bob" / "b2.wav")  # no transcript
    assert detect_format(root) == "folder"
    report = import_dataset(root, tmp_path / "m.jsonl", progress=False)
    assert report.rows == 2 and [f.id for f in report.failures] == ["bob-b2"]
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [(r["id"], r["voice"], r["transcript"]) for r in rows] == [
        ("alice-a1", "alice", "Good morning."),
        ("bob-b1", "bob", "Good night."),
    ]
    sounds = import_dataset(root, tmp_path / "s.jsonl", text_kind="caption", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert sounds.rows == 2 and rows[0]["kind"] == "sound_event"
    assert rows[0]["captions"] == ["Good morning."] and "transcript" not in rows[0]


def test_commonvoice_layout(tmp_path):
    root = tmp_path / "cv"
    write_tone(root / "clips" / "c1.wav")
    write_tone(root / "clips" / "c2.wav", freq=330)
    (root / "validated.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\n"
        "spk1\tc1.wav\tThe first sentence.\t2\n"
        'spk2\tc2.wav\tThe "second" sentence.\t1\n'
        "spk2\tc3.wav\tMissing clip.\t1\n"
    )
    assert detect_format(root) == "commonvoice"
    report = import_dataset(root, tmp_path / "cv.jsonl", progress=False)
    assert report.rows == 2 and [f.id for f in report.failures] == ["c3"]
    rows = [json.loads(line) for line in (tmp_path / "cv.jsonl").read_text().splitlines()]
    assert [(r["voice"], r["transcript"]) for r in rows] == [
        ("spk1", "The first sentence."),
        ("spk2", 'The "second" sentence.'),
    ]


def test_captions_layout_several_captions_per_file(tmp_path):
    root = tmp_path / "sounds"
    write_tone(root / "audio" / "rain.wav", seconds=1.0)
    write_tone(root / "audio" / "bell.wav", seconds=1.0, freq=880)
    (root / "captions.csv").write_text(
        "file,caption\n"
        "rain.wav,rain on a tin roof\n"
        'rain.wav,"steady rain, distant thunder"\n'
        "bell.wav,a small bell rings\n"
    )
    assert detect_format(root) == "captions"
    report = import_dataset(root, tmp_path / "c.jsonl", progress=False)
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "c.jsonl").read_text().splitlines())}
    assert report.rows == 2 and not report.failures
    assert rows["rain"]["captions"] == ["rain on a tin roof", "steady rain, distant thunder"]
    assert rows["bell"]["kind"] == "sound_event"


def test_captions_may_name_files_from_the_root_and_failures_say_why(tmp_path):
    root = tmp_path / "sounds"
    write_tone(root / "audio" / "rain.wav", seconds=1.0)
    (root / "captions.csv").write_text("file,caption\naudio/rain.wav,rain on a tin roof\n")
    report = import_dataset(root, tmp_path / "c.jsonl", progress=False)
    assert report.rows == 1 and not report.failures
    (root / "captions.csv").write_text("file,caption\nnowhere.wav,rain\n")
    with pytest.raises(InvalidInputError, match=r"the first: nowhere: .*not found"):
        import_dataset(root, tmp_path / "d.jsonl", progress=False)


def test_cli_exit_status_and_errors(ljspeech, tmp_path, capsys):
    out = tmp_path / "lj.jsonl"
    assert main(["data", "import", str(ljspeech), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "2 rows (ljspeech)" in captured.out and "4 rows failed" in captured.err
    assert "LJ004" in captured.err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "import", str(empty), "--out", str(out)]) == 2
    assert "no known dataset layout" in capsys.readouterr().err
    with pytest.raises(InvalidInputError, match="valid_fraction"):
        import_dataset(ljspeech, out, valid_fraction=1.5)


def test_the_example_voice_is_an_ljspeech_folder_that_imports(tmp_path):
    """`tokgen data example-voice` renders the fine-tuning example's fixture (flite)."""
    out = tmp_path / "voice"
    assert main(["data", "example-voice", "--out", str(out), "--clips", "3"]) == 0
    lines = (out / "metadata.csv").read_text().splitlines()
    assert [line.split("|")[0] for line in lines] == ["EV0000", "EV0001", "EV0002"]
    first = sf.info(str(out / "wavs" / "EV0000.wav"))
    assert first.samplerate == 16_000 and first.duration > 0.5
    report = import_dataset(out, tmp_path / "voice.jsonl", voice="awb", progress=False)
    assert report.format == "ljspeech" and report.rows == 3 and not report.failures
    before = (out / "metadata.csv").read_text()
    assert main(["data", "example-voice", "--out", str(out), "--clips", "3"]) == 0  # a rerun
    assert (out / "metadata.csv").read_text() == before
    with pytest.raises(InvalidInputError, match="was made with voice=flite-awb seed=0"):
        make_example_voice(out, clips=3, seed=1, progress=False)
