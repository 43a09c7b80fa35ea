"""The shipped models: the default codec (parametric, fitted) and the learned SEANet codec
load offline and round-trip a clip; the default LM loads offline and generates every task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tone

import tokgen
from tokgen.codecs.registry import PRETRAINED_DIR
from tokgen.eval.metrics import mel_distance

SHIPPED = PRETRAINED_DIR / "tokgen-codec-16k"
SEANET = "tokgen-codec-16k-seanet"


def stored_dtypes(weights: Path) -> set[str]:
    """The safetensors dtype names of the tensors in ``weights``."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        return {handle.get_slice(k).get_dtype() for k in handle.keys()}  # noqa: SIM118


@pytest.mark.parametrize(("name", "limit_mb"), [("tokgen-codec-16k", 3), (SEANET, 30)])
def test_shipped_codecs_are_small_fp16_safetensors(name, limit_mb):
    weights = PRETRAINED_DIR / name / "model.safetensors"
    assert weights.stat().st_size < limit_mb * 2**20
    dtypes = stored_dtypes(weights)
    assert "F16" in dtypes and "F32" not in dtypes


@pytest.mark.parametrize(("name", "codebooks"), [("tokgen-codec-16k", 9), (SEANET, 4)])
def test_shipped_codecs_load_offline_and_round_trip(monkeypatch, name, codebooks):
    monkeypatch.setenv("TOKGEN_OFFLINE", "1")
    codec = tokgen.load_codec(name)
    assert (codec.sample_rate, codec.frame_rate, codec.num_codebooks, codec.cardinality) == (
        16_000, 50.0, codebooks, 1024,
    )  # fmt: skip
    wav = tone(1.0)  # [1, 16000]
    codes = codec.encode(wav, 16_000)
    assert codes.shape == (1, codebooks, 50) and codes.dtype == torch.int64
    audio = codec.decode(codes, length=16_000)
    assert audio.shape == (1, 1, 16_000) and torch.isfinite(audio).all()
    # fitted / trained weights: far closer to the input than the same architecture untrained
    untrained = tokgen.load_codec(name, pretrained=False, num_codebooks=codebooks)
    random_audio = untrained.decode(untrained.encode(wav, 16_000), length=16_000)
    trained_error = mel_distance(wav[0], audio[0, 0], 16_000)
    assert trained_error < 0.5 * mel_distance(wav[0], random_audio[0, 0], 16_000)


@pytest.mark.parametrize(
    ("name", "digest"), [("tokgen-codec-16k", "9317a0d75e936073"), (SEANET, "68828bec17381b2d")]
)
def test_shipped_codecs_keep_their_token_config_hash(name, digest):
    # token corpora record this hash: decoder-only settings must never change it
    assert tokgen.load_codec(name).config_hash == digest


def test_all_eight_codebooks_are_shipped():
    codec = tokgen.load_codec(Path(SHIPPED), num_codebooks=8)
    assert codec.encode(tone(0.2), 16_000).shape == (1, 8, 10)


def test_shipped_judge_hears_the_bundled_speech_clip_as_speech():
    from tokgen.eval.judge import load_judge, load_mono

    judge = load_judge()
    assert len(judge.config.classes) > 30 and "speech" in judge.config.classes
    wav = load_mono(Path(tokgen.__file__).parent / "assets" / "sample_speech.wav", 16_000)
    classes, _, embedding = judge.judge([wav, tone(2.0)[0]])
    assert classes[0] == "speech" and embedding.shape == (2, judge.config.embedding_dim)


SMALL = PRETRAINED_DIR / "tokgen-small"


def test_shipped_lm_is_under_60_mb_fp16():
    weights = SMALL / "model.safetensors"
    assert weights.stat().st_size < 60 * 2**20
    assert stored_dtypes(weights) in ({"F16"}, {"F16", "I64"})


@pytest.mark.parametrize(
    ("task", "kwargs"),
    [
        ("tts", {"text": "Good morning.", "prompt_audio": (tone(1.0), 16_000), "duration": 1.0}),
        ("tta", {"text": "a dog barks", "duration": 0.5}),
        ("lass", {"text": "the flute", "audio": (tone(1.0), 16_000)}),
        ("continuation", {"audio": (tone(1.0), 16_000), "duration": 0.5}),
    ],
)
def test_shipped_lm_loads_offline_and_generates_each_task(monkeypatch, task, kwargs):
    monkeypatch.setenv("TOKGEN_OFFLINE", "1")
    model = tokgen.load("tokgen-small")
    assert "tokgen-small" in tokgen.pipeline.shipped_models()
    out = model.generate(task, seed=0, **kwargs)
    frames = out.lengths[0] // model.codec.hop_length
    assert out.sample_rate == 16_000 and out.codes.shape[:2] == (1, 4)
    assert out.audio.shape[:2] == (1, 1) and torch.isfinite(out.audio).all()
    assert 1 <= frames <= 50  # 1 s at most: tts stops at its end token or the cap
    assert (out.codes[0, :, :frames] >= 0).all() and (out.codes < 1024).all()


DIFFUSION = PRETRAINED_DIR / "tokgen-diffusion-small"


def test_shipped_diffusion_model_is_small_fp16_with_an_index():
    weights = DIFFUSION / "transformer" / "model.safetensors"
    assert weights.stat().st_size < 30 * 2**20 and stored_dtypes(weights) == {"F16"}
    index = json.loads((DIFFUSION / "model_index.json").read_text())
    assert index["transformer"] == "transformer" and (DIFFUSION / "scheduler").is_dir()


def test_shipped_diffusion_model_loads_offline_and_generates(monkeypatch):
    monkeypatch.setenv("TOKGEN_OFFLINE", "1")
    model = tokgen.load("tokgen-diffusion-small")
    assert "tokgen-diffusion-small" in tokgen.pipeline.shipped_models()
    out = model.generate("tta", ["a dog barks", "a violin"], duration=[0.6, 1.0], seed=0, steps=4)
    assert out.lengths == [9600, 16000] and torch.isfinite(out.audio).all()
    low, high = model.dit.latent_low[:, None], model.dit.latent_high[:, None]
    assert ((out.latents[1] >= low) & (out.latents[1] <= high)).all()
    cont = model.generate("continuation", audio=(tone(1.0), 16_000), duration=0.5, seed=0, steps=4)
    assert cont.lengths == [8000] and torch.isfinite(cont.audio).all()


TTS = PRETRAINED_DIR / "tokgen-tts-small"


def test_shipped_tts_is_small_fp16_and_the_tts_default():
    assert stored_dtypes(TTS / "model.safetensors") == {"F16"}
    assert (TTS / "model.safetensors").stat().st_size < 10 * 2**20
    assert tokgen.pipeline.default_model("tts") == "tokgen-tts-small"
    assert tokgen.pipeline.default_model("tta") == "tokgen-small"
    assert "tokgen-tts-small" in tokgen.pipeline.shipped_models()
    assert tokgen.load("tokgen-tts-small").acoustics == "flite"  # flite's speech, converted


def test_shipped_tts_says_the_words_in_the_prompts_pitch(monkeypatch):
    """Pocketsphinx understands the shipped model on sentences it never trained on, and its
    pitch follows the prompt (a tone an octave apart moves it an octave)."""
    from tokgen.eval.metrics import Transcriber, word_error_rate

    monkeypatch.setenv("TOKGEN_OFFLINE", "1")
    model = tokgen.load("tokgen-tts-small")
    texts = ["Please open the window before dinner.", "My brother bought three green apples."]
    out = model.generate("tts", texts)  # the bundled voice
    transcriber = Transcriber()
    heard = [transcriber.transcribe(out.audio[i, 0, : out.lengths[i]], 16_000) for i in range(2)]
    assert word_error_rate(texts, heard) < 0.7, heard  # tokgen-small's WER is about 1.1
    low = model.generate("tts", texts[0], prompt_audio=(tone(2.0, freq=110.0), 16_000))
    high = model.generate("tts", texts[0], prompt_audio=(tone(2.0, freq=220.0), 16_000))
    f0 = [o.latents[0, 0][o.latents[0, 1] >= 0.5].mean() for o in (low, high)]
    assert abs((f0[1] - f0[0]) - 0.693) < 0.1  # ln 2


SEPARATOR = PRETRAINED_DIR / "tokgen-sep-small"


def test_shipped_separator_is_small_fp16_and_the_lass_default():
    from tokgen.pipeline import default_model, shipped_models

    assert stored_dtypes(SEPARATOR / "model.safetensors") == {"F16"}
    assert (SEPARATOR / "model.safetensors").stat().st_size < 10 * 2**20
    assert default_model("lass") == "tokgen-sep-small"
    assert "tokgen-sep-small" in shipped_models()


def test_shipped_separator_keeps_what_the_query_names(monkeypatch):
    """The bundled speech clip plus an equally loud synthetic tone (neither trained on): asked
    for speech it keeps the speech, asked for a flute the tone, each > 3 dB better than the
    mixture (12.1 and 9.6 dB when shipped; tokgen-small's LM is worse than the mixture)."""
    from signals import harmonic_tone

    from tokgen.audio import load
    from tokgen.eval.metrics import si_sdr

    monkeypatch.setenv("TOKGEN_OFFLINE", "1")
    clip = Path(tokgen.__file__).parent / "assets" / "sample_speech.wav"
    speech = load(str(clip), target_sample_rate=16_000, channels=1).samples[0, 0]
    note = torch.from_numpy(harmonic_tone(440.0, speech.shape[0] / 16_000)).float()
    note = note[: speech.shape[0]] * (speech.pow(2).mean() / note.pow(2).mean()).sqrt()
    mixture = speech + note
    model = tokgen.load("tokgen-sep-small")
    out = model.generate("lass", ["speech", "a flute playing a long note"],
                         audio=(mixture, 16_000))  # fmt: skip
    assert out.lengths == [mixture.shape[0]] * 2
    for i, truth in enumerate((speech, note)):
        gain = si_sdr(truth, out.audio[i, 0]) - si_sdr(truth, mixture)
        assert gain > 3.0, (i, gain)
