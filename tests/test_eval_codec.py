"""Codec evaluation: metrics with known answers, ASR + WER, the manifest harness, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import tone

import tokgen
from tokgen.cli import main
from tokgen.errors import InvalidInputError, TokgenError
from tokgen.eval import metrics
from tokgen.eval.codec_eval import evaluate_codec, format_markdown, read_items

SENTENCE = "The old man walked slowly to the river."
RATE = 16_000


def noise(num_samples: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(num_samples, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory) -> Path:
    """A flite (rms voice, 16 kHz) rendering of :data:`SENTENCE`."""
    path = tmp_path_factory.mktemp("speech") / "sentence.wav"
    subprocess.run(["flite", "-voice", "rms", "-t", SENTENCE, "-o", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def speech(speech_file) -> torch.Tensor:
    wav, rate = sf.read(speech_file, dtype="float32")
    assert rate == RATE
    return torch.from_numpy(wav)  # [T]


@pytest.fixture(scope="module")
def manifest(speech_file, tmp_path_factory) -> Path:
    """Two tones, the flite sentence, and a 0.2 s silent 'speech' clip PESQ/STOI reject."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "audio").mkdir()
    (root / "audio" / "speech.wav").write_bytes(speech_file.read_bytes())
    sf.write(root / "audio" / "tone0.wav", tone(1.0, RATE, freq=220).T.numpy(), RATE)
    sf.write(root / "audio" / "tone1.wav", tone(0.5, 22_050, freq=660).T.numpy(), 22_050)
    sf.write(root / "audio" / "silence.wav", torch.zeros(RATE // 5).numpy(), RATE)
    rows = [
        {
            "id": "music-0",
            "path": "audio/tone0.wav",
            "kind": "music",
            "engine": "fluidsynth",
            "class": "test tone",
        },
        {"id": "event-0", "path": "audio/tone1.wav", "kind": "sound_event", "engine": "mix"},
        {
            "id": "speech-0",
            "path": "audio/speech.wav",
            "kind": "speech",
            "engine": "flite",
            "transcript": SENTENCE,
        },
        {
            "id": "speech-1",
            "path": "audio/silence.wav",
            "kind": "speech",
            "engine": "festival",
            "transcript": "the",
        },
    ]
    path = root / "test.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


# ---- metrics -------------------------------------------------------------------------


def test_si_sdr_is_scale_invariant_and_matches_the_snr(speech):
    assert metrics.si_sdr(speech, speech) > 80
    assert metrics.si_sdr(speech, 0.5 * speech) > 80
    ref = speech - speech.mean()
    disturbance = noise(len(ref))
    disturbance -= disturbance.mean()
    disturbance -= (disturbance @ ref) / (ref @ ref) * ref  # orthogonal to ref
    for snr_db in (-5.0, 0.0, 10.0, 30.0):
        gain = (ref.norm() / disturbance.norm()) * 10 ** (-snr_db / 20)
        noisy = ref + gain * disturbance
        assert metrics.si_sdr(ref, noisy) == pytest.approx(snr_db, abs=0.1)
        for scale in (0.5, 1e-4):  # quiet estimates too
            assert metrics.si_sdr(ref, scale * noisy) == pytest.approx(snr_db, abs=0.1)


def test_distances_are_zero_for_identical_input_and_grow_with_distortion(speech):
    for distance in (
        lambda a, b: metrics.mel_distance(a, b, RATE),
        metrics.multi_resolution_stft_distance,
    ):
        assert distance(speech, speech) == pytest.approx(0.0, abs=1e-9)
        values = [
            distance(speech, speech + level * noise(len(speech))) for level in (1e-3, 1e-2, 1e-1)
        ]
        assert 0 < values[0] < values[1] < values[2]


def test_stoi_and_pesq_are_high_for_clean_and_lower_for_degraded_speech(speech):
    degraded = speech + 0.05 * noise(len(speech))
    assert metrics.stoi(speech, speech, RATE) > 0.99
    assert metrics.stoi(speech, degraded, RATE) < 0.9
    assert metrics.pesq_wb(speech, speech, RATE) > 4.4
    assert metrics.pesq_wb(speech, degraded, RATE) < 2.0
    resampled = tokgen.audio.resample(speech, RATE, 24_000)
    assert metrics.pesq_wb(resampled, resampled, 24_000) > 4.4


def test_undefined_stoi_and_pesq_are_nan():
    short = 0.1 * noise(RATE // 10)  # 0.1 s: under PESQ's 1/4 s and STOI's 30 frames
    assert math.isnan(metrics.pesq_wb(short, short, RATE))
    assert math.isnan(metrics.stoi(short, short, RATE))
    silence = torch.zeros(RATE)
    assert math.isnan(metrics.pesq_wb(silence, silence, RATE))  # no utterance


def test_metrics_reject_mismatched_signals():
    with pytest.raises(InvalidInputError, match="equal length"):
        metrics.si_sdr(torch.zeros(10), torch.zeros(11))
    with pytest.raises(InvalidInputError, match="mono"):
        metrics.mel_distance(torch.zeros(2, 10), torch.zeros(2, 10), RATE)


def test_word_error_rate_is_corpus_level_and_normalized():
    assert metrics.normalize_text("  The man's DOG, barked! ") == "the man's dog barked"
    assert metrics.word_error_rate(["The cat sat."], ["the cat sat"]) == 0.0
    assert metrics.word_error_rate(["the cat sat on the mat"], ["the cat sat on a mat"]) == (
        pytest.approx(1 / 6)
    )
    # 2 errors over 6 reference words (a mean of per-sentence WERs would be 0.5)
    assert metrics.word_error_rate(["a b c d", "e f"], ["a b c d", "x y"]) == pytest.approx(1 / 3)
    assert metrics.word_error_rate(["a b"], [""]) == 1.0
    with pytest.raises(InvalidInputError, match="one hypothesis per reference"):
        metrics.word_error_rate(["a"], ["a", "b"])
    with pytest.raises(InvalidInputError, match="empty"):
        metrics.word_error_rate(["..."], ["a"])


def test_a_missing_eval_dependency_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jiwer", None)  # import jiwer now fails
    with pytest.raises(TokgenError, match=r"pip install 'tokgen\[eval\]'"):
        metrics.word_error_rate(["a"], ["a"])


def test_transcriber_recognizes_flite_speech(speech):
    transcriber = metrics.Transcriber()
    hypothesis = transcriber.transcribe(speech, RATE)
    assert metrics.word_error_rate([SENTENCE], [hypothesis]) <= 0.3


def test_a_transcript_does_not_depend_on_the_clip_before(tmp_path):
    # a quiet clip whose transcript changed after a noise clip while pocketsphinx kept its
    # feature statistics from one utterance to the next (real-recording WER of one eval
    # read 0.207 beside generated babble, 0.196 beside other audio)
    path = tmp_path / "awb.wav"
    text = "The heavy musician read her wooden blanket."
    subprocess.run(["flite", "-voice", "awb", "-t", text, "-o", str(path)], check=True)
    wav = torch.from_numpy(sf.read(path, dtype="float32")[0])
    quiet = wav / wav.abs().max() * 10 ** (-12 / 20)
    fresh = metrics.Transcriber().transcribe(quiet, RATE)
    transcriber = metrics.Transcriber()
    transcriber.transcribe(0.1 * noise(2 * RATE, seed=0), RATE)
    assert transcriber.transcribe(quiet, RATE) == fresh


# ---- harness -------------------------------------------------------------------------


def test_evaluate_codec_reports_every_field(manifest):
    codec = tokgen.load_codec("tokgen-codec-debug")
    result = evaluate_codec(codec, manifest, speed_seconds=1.0, progress=False)
    assert (result.num_codebooks, result.bitrate_kbps) == (4, pytest.approx(1.2))
    assert set(result.by_kind) == {"music", "sound_event", "speech"}
    assert [g.items for g in result.by_kind.values()] == [1, 1, 2]
    assert result.overall.items == len(result.items) == 4
    for group in [*result.by_kind.values(), result.overall]:
        assert all(
            math.isfinite(v) for v in (group.si_sdr, group.mel_distance, group.mrstft_distance)
        )
        assert group.mel_distance > 0 and group.mrstft_distance > 0
    speech = result.intelligibility
    assert speech is not None and speech.items == 2
    assert (speech.stoi_failed, speech.pesq_failed) == (1, 1)  # the 0.2 s silent clip
    assert 0 <= speech.stoi <= 1 and 1 <= speech.pesq_wb <= 4.7
    assert speech.wer_original <= 0.3  # the sentence is recognized; "the" (silence) is not
    assert speech.wer_decoded > speech.wer_original  # the untrained debug codec garbles it
    assert [item.speech is None for item in result.items] == [True, True, False, False]
    assert result.speed.clip_seconds == 1.0 and result.speed.median_s > 0
    assert result.speed.real_time == pytest.approx(1.0 / result.speed.median_s)
    judged = result.recognition  # the judge scores the one music row with a class
    assert judged is not None and judged.items == 1
    assert result.items[0].judged is not None and result.items[1].judged is None
    assert judged.accuracy_original in (0.0, 1.0) and judged.accuracy_decoded in (0.0, 1.0)
    as_json = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert as_json["items"][3]["speech"]["pesq_wb"] is None
    table = format_markdown(result)
    for field in (
        "SI-SDR",
        "mel",
        "MR-STFT",
        "STOI",
        "PESQ-WB",
        "WER",
        "kbps",
        "real time",
        "judge",
    ):
        assert field in table


def test_evaluate_codec_limit_and_codebooks(manifest, debug_codec):
    result = evaluate_codec(
        debug_codec, manifest, num_codebooks=2, limit=2, speed_seconds=0.5, progress=False
    )
    assert result.overall.items == 2 and result.intelligibility is None
    only = evaluate_codec(debug_codec, manifest, kinds=["speech"], judge=None, speed_seconds=0.5)
    assert set(only.by_kind) == {"speech"} and only.recognition is None
    with pytest.raises(InvalidInputError, match="no rows of kind"):
        evaluate_codec(debug_codec, manifest, kinds=["mixture"])
    assert result.bitrate_kbps == pytest.approx(0.6)
    with pytest.raises(InvalidInputError, match="num_codebooks"):
        evaluate_codec(debug_codec, manifest, num_codebooks=9)
    with pytest.raises(InvalidInputError, match="limit"):
        evaluate_codec(debug_codec, manifest, limit=0)
    with pytest.raises(InvalidInputError, match="speed_seconds"):
        evaluate_codec(debug_codec, manifest, speed_seconds=0)


def test_bad_manifests_raise_clear_errors(tmp_path, wav_file):
    path = tmp_path / "m.jsonl"
    with pytest.raises(InvalidInputError, match="not found"):
        read_items(path)
    path.write_text("\n\n")
    with pytest.raises(InvalidInputError, match="no rows"):
        read_items(path)
    good = json.dumps({"path": str(wav_file), "kind": "music"})
    path.write_text(good + "\n{not json\n")
    with pytest.raises(InvalidInputError, match=r"m\.jsonl:2: not valid JSON"):
        read_items(path)
    path.write_text(json.dumps({"path": str(wav_file)}) + "\n")
    with pytest.raises(InvalidInputError, match=r":1: a manifest row needs a 'kind'"):
        read_items(path)
    path.write_text(good + "\n" + json.dumps({"path": "missing.wav", "kind": "speech"}) + "\n")
    with pytest.raises(InvalidInputError, match=r":2: audio file .*missing\.wav not found"):
        read_items(path)


# ---- CLI -----------------------------------------------------------------------------


def test_cli_prints_the_table_and_writes_json(manifest, tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["eval", "codec", "--codec", "tokgen-codec-debug", "--manifest", str(manifest)]
    assert main([*argv, "--limit", "2", "--speed-seconds", "2", "--json", str(out)]) == 0
    assert "| **overall** | 2 |" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written["codec"] == "tokgen-codec-debug" and len(written["items"]) == 2
    assert written["speed"]["clip_seconds"] == 2.0
    kinds = {item["kind"] for item in written["items"]}
    pictures = sorted(tmp_path.glob("eval-*.png"))  # one item per kind, original | decoded
    assert (
        len(pictures) == len(kinds) and "| **overall** | 2 |" in (tmp_path / "eval.md").read_text()
    )
    assert main(["eval", "codec", "--codec", "tokgen-codec-debug", "--manifest", "none.jsonl"]) == 2
    assert "manifest none.jsonl not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "codec", "--help"])
    assert exit_.value.code == 0


def test_bench_f0_trackers_scores_each_tracker(manifest):
    from tokgen.eval.bench import bench_f0_trackers, format_tracker_table

    results = bench_f0_trackers(str(manifest), limit=1, trackers=("dio", "dio-plain"))
    assert [r.tracker for r in results] == ["dio", "dio-plain"]
    for r in results:
        assert r.analysis_speedup > 0 and r.f0_speedup >= r.analysis_speedup
        assert 1 <= r.pesq_wb <= 4.7 and 0 < r.stoi <= 1
    assert "| dio |" in format_tracker_table(results, 1)
