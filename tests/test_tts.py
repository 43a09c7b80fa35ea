"""The duration TTS: flite phones, DTW alignment, the network, training and generate()."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import tokgen
from tokgen.cli import main
from tokgen.codecs import load_codec
from tokgen.data.alignment import align, align_manifest, read_alignments
from tokgen.data.tokenize import tokenize_manifest
from tokgen.errors import InvalidInputError, TokgenError
from tokgen.text.phones import PHONE_IDS, flite_phones, flite_speak
from tokgen.training.tts_training import load_tts_train_config, train_tts
from tokgen.tts import DurationTTSConfig, DurationTTSNet, save_tts
from tokgen.tts.model import expand
from tokgen.tts.pipeline import load_tts_net

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tts" / "tiny.yaml"
SR = 16_000
SENTENCES = ("The cat sat on the mat.", "Where is the red bridge?", "She reads every evening.")


def _flite(text: str, voice: str, path: Path) -> tuple[np.ndarray, list[float]]:
    """flite's rendering of ``text`` in ``voice`` and the end time of each phone."""
    out = subprocess.run(["flite", "-voice", voice, "-psdur", "-t", text, "-o", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return sf.read(str(path), dtype="float32")[0], [
        float(x.rpartition(":")[2]) for x in out.split()
    ]


def test_flite_phones_are_timed_and_bounded_by_silence():
    phones = flite_phones("Dr. Smith paid $5.")  # normalized first: doctor, five dollars
    assert phones.phones[0] == phones.phones[-1] == "pau"
    assert all(p in PHONE_IDS for p in phones.phones)
    assert phones.ends == sorted(phones.ends)
    frames = phones.frame_durations(50.0)
    assert sum(frames) == round(phones.ends[-1] * 50)
    assert sum(phones.frame_durations(50.0, speed=2.0)) == round(phones.ends[-1] * 25)
    with pytest.raises(InvalidInputError, match="nothing to say"):
        flite_phones(" ?! ")


def test_expand_gives_each_frame_its_phone_and_position():
    index, position, length = expand(torch.tensor([[2, 0, 3], [1, 1, 0]]), 6)
    assert index.tolist() == [[0, 0, 2, 2, 2, -1], [0, 1, -1, -1, -1, -1]]
    torch.testing.assert_close(position[0, :5], torch.tensor([0, 0.5, 0, 1 / 3, 2 / 3]))
    assert length[0].tolist() == [2, 2, 3, 3, 3, 0]


def test_alignment_finds_another_voices_phone_ends(tmp_path):
    """DTW from flite's kal16 onto rms: the ends agree with rms's own timing within 3 frames
    on average (1.3 frames on the corpus' 40 flite test clips; see tts/README.md)."""
    errors = []
    for text in SENTENCES:
        wav, ends = _flite(text, "rms", tmp_path / "rms.wav")
        frames = -(-len(wav) // 320)
        a = align(wav, text, frames)
        assert sum(a.durations) == frames and len(a.ids) == len(ends)
        exact = np.round(np.array(ends[:-1]) * 50)
        errors += list(np.abs(np.cumsum(a.durations)[:-1] - exact))
    assert np.mean(errors) < 3.0


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> tuple[Path, Path]:
    """Six flite clips (two voices, three sentences): a latent corpus and its alignments."""
    root = tmp_path_factory.mktemp("speech")
    rows = []
    for voice in ("kal16", "slt"):
        for s, text in enumerate(SENTENCES):
            name = f"{voice}{s}.wav"
            wav, _ = _flite(text, voice, root / name)
            rows.append({"id": f"{voice}-{s}", "kind": "speech", "path": name, "voice": voice,
                         "transcript": text, "duration": len(wav) / SR})  # fmt: skip
    rows.append({"id": "tone", "kind": "music", "path": "kal160.wav", "duration": 1.0})
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    latents = root / "latents"
    tokenize_manifest(load_codec("tokgen-codec-16k"), manifest, latents, latents=True,
                      kinds=["speech"], progress=False)  # fmt: skip
    assert align_manifest(manifest, root / "align.jsonl") == 6  # speech rows only
    return latents, root / "align.jsonl"


def test_align_manifest_resumes_after_a_half_written_line(speech, tmp_path):
    latents, alignments = speech
    lines = alignments.read_text().splitlines(keepends=True)
    partial = tmp_path / "align.jsonl"
    partial.write_text("".join(lines[:2]) + lines[2][:10])  # killed while writing row 3
    assert align_manifest(latents.parent / "train.jsonl", partial) == 4
    assert read_alignments(partial) == read_alignments(alignments)


def _tiny(speech: tuple[Path, Path], out: Path, *overrides: str):
    latents, alignments = speech
    sets = [f"data.latents={latents}", f"data.alignments={alignments}", f"run.out_dir={out}"]
    return load_tts_train_config(TINY, [*sets, *overrides])


def test_training_exports_resumes_exactly_and_generates(speech, tmp_path):
    export = train_tts(_tiny(speech, tmp_path / "run"))
    model = tokgen.load(str(export))
    assert model.tasks == ["tts"] and model.net.latent_std.min() > 0
    out = model.generate("tts", "The cat sat.", prompt_audio=str(speech[0].parent / "slt1.wav"))
    frames = sum(flite_phones("The cat sat.").frame_durations(50.0))
    assert out.audio.shape == (1, 1, frames * 320) and out.lengths == [frames * 320]
    assert out.codes.shape == (1, 9, frames) and torch.isfinite(out.audio).all()
    straight = train_tts(_tiny(speech, tmp_path / "a", "run.max_steps=4", "run.save_every=2"))
    train_tts(_tiny(speech, tmp_path / "b", "run.max_steps=2", "run.save_every=2"))
    resumed = train_tts(_tiny(speech, tmp_path / "b", "run.max_steps=4", "run.save_every=2"))
    a, b = load_tts_net(straight).state_dict(), load_tts_net(resumed).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_frame_durations_rescale_flites_timing():
    phones = flite_phones("The cat sat on the mat.")
    n = len(phones.ends)
    ones = phones.frame_durations(50.0, scale=[1.0] * n)
    assert sum(ones) == sum(phones.frame_durations(50.0))
    assert max(abs(a - b) for a, b in zip(ones, phones.frame_durations(50.0))) <= 1
    double = phones.frame_durations(50.0, scale=[2.0] * n)
    assert abs(sum(double) - 2 * sum(ones)) <= 1
    assert phones.frame_durations(50.0, scale=[9.0] * n) == double  # at most 2x
    assert abs(sum(phones.frame_durations(50.0, 2.0, [2.0] * n)) - sum(ones)) <= 1


def test_a_duration_head_grows_on_a_trained_model_and_times_its_speech(speech, tmp_path):
    base = train_tts(_tiny(speech, tmp_path / "base"))
    sets = [f"init_from={base}", "model.voice_durations=true", "run.max_steps=4"]
    export = train_tts(_tiny(speech, tmp_path / "head", *sets))
    before, after = load_tts_net(base).state_dict(), load_tts_net(export).state_dict()
    assert {k for k in after if k not in before} == {k for k in after if k.startswith("duration_")}
    model = tokgen.load(str(export))
    assert model.config.voice_durations
    prompt = str(speech[0].parent / "slt1.wav")
    out = model.generate("tts", "The cat sat.", prompt_audio=prompt, speed=1.5)
    voice = model.net.voice(model.prompt_latent(prompt))
    frames = sum(model.durations(flite_phones("The cat sat."), voice, 1.5))
    assert out.lengths == [frames * 320]
    scale = model.net.duration_scale(torch.tensor([flite_phones("The cat sat.").ids]), voice)
    expected = flite_phones("The cat sat.").frame_durations(50.0, 1.5, scale[0].exp().tolist())
    assert frames == sum(expected)


def test_training_needs_alignments_that_match(speech, tmp_path):
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    config = _tiny(speech, tmp_path / "run", f"data.alignments={empty}")
    with pytest.raises(TokgenError, match="tokgen data align"):
        train_tts(config)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tts") / "model"
    save_tts(DurationTTSNet(DurationTTSConfig(width=16, phone_layers=1, frame_layers=1)), path)
    return tokgen.load(str(path))


def test_a_batch_equals_its_items_and_speed_sets_the_length(model):
    texts = ["Good morning.", "The weather is lovely today."]
    batch = model.generate("tts", texts, speed=[1.0, 2.0])
    for i, (text, speed) in enumerate(zip(texts, (1.0, 2.0))):
        one = model.generate("tts", text, speed=speed)
        assert batch.lengths[i] == one.lengths[0]
        torch.testing.assert_close(batch.latents[i, :, : one.latents.shape[-1]], one.latents[0],
                                   atol=1e-4, rtol=1e-4)  # fmt: skip
    slow = model.generate("tts", texts[1], speed=0.5).lengths[0]
    assert abs(slow / batch.lengths[1] - 4.0) < 0.1  # half speed is four times speed 2


def test_the_voice_vector_ignores_padding(model):
    latent = torch.randn(1, 49, 30)
    padded = torch.cat([latent, torch.zeros(1, 49, 10)], -1)
    mask = torch.arange(40)[None] < 30
    torch.testing.assert_close(model.net.voice(padded, mask),
                               model.net.voice(latent, torch.ones(1, 30, dtype=torch.bool)))  # fmt: skip


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.generate("tta", "a bell"), "only speaks"),
        (lambda m: m.generate("tts"), "needs text"),
        (lambda m: m.generate("tts", "Hi.", temperature=0.5), "deterministic"),
        (lambda m: m.generate("tts", "Hi.", speed=0), "speed"),
        (lambda m: m.generate("tts", "Hi.", duration=2.0), "speed= instead"),
        (lambda m: m.generate("tts", "..."), "nothing to say"),
        (
            lambda m: m.generate("tts", "Hi.", prompt_audio=torch.zeros(100), sample_rate=SR),
            "at least",
        ),
    ],
)
def test_bad_inputs_name_the_problem(model, call, message):
    with pytest.raises(TokgenError, match=message):
        call(model)


def test_cli_trains_and_speaks(speech, tmp_path, capsys):
    latents, alignments = speech
    run = tmp_path / "run"
    argv = ["train", "tts", "--config", str(TINY), "--set", f"data.latents={latents}",
            "--set", f"data.alignments={alignments}", "--set", f"run.out_dir={run}"]  # fmt: skip
    assert main(argv) == 0
    assert "written to" in capsys.readouterr().out
    out = tmp_path / "hi.wav"
    prompt = str(latents.parent / "slt0.wav")
    argv = ["generate", "tts", "Hello.", "--prompt", prompt, "--model", str(run / "model")]
    assert main([*argv, "-o", str(out)]) == 0
    assert sf.info(str(out)).frames > 0


@pytest.fixture(scope="module")
def converting(tmp_path_factory):
    """A tiny duration TTS that speaks flite's rendering in the prompt's voice."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tts") / "model"
    config = DurationTTSConfig(width=16, phone_layers=1, frame_layers=1, acoustics="flite")
    save_tts(DurationTTSNet(config), path)
    return tokgen.load(str(path))


def test_flite_acoustics_speak_flites_rendering_in_the_prompts_voice(converting, model):
    texts = ["Good morning.", "The weather is lovely today."]
    batch = converting.generate("tts", texts, speed=[1.0, 2.0])
    for i, (text, speed) in enumerate(zip(texts, (1.0, 2.0))):
        frames = round(-(-len(flite_speak(text)[1]) // 320) / speed)  # flite's own timing
        one = converting.generate("tts", text, speed=speed)
        assert one.lengths == [frames * 320] == [batch.lengths[i]]
        torch.testing.assert_close(batch.audio[i, :, : one.lengths[0]], one.audio[0])
    assert torch.isfinite(batch.audio).all() and batch.codes.shape[:2] == (2, 9)
    prompt = converting.prompt_latent(None)  # the bundled voice
    out = converting.generate("tts", texts[0]).latents  # [1, D, F]
    ours, theirs = converting.net.normalize(out), converting.net.normalize(prompt)
    torch.testing.assert_close(ours[0, 2:].mean(-1), theirs[0, 2:].mean(-1), atol=1e-3, rtol=0)
    assert not torch.equal(out, model.generate("tts", texts[0]).latents[..., : out.shape[-1]])
    converting.acoustics = "network"  # the same network's own output instead
    try:
        torch.testing.assert_close(converting.generate("tts", texts).latents,
                                   model.generate("tts", texts).latents)  # fmt: skip
    finally:
        converting.acoustics = "flite"
    with pytest.raises(TokgenError, match="acoustics"):
        DurationTTSConfig(acoustics="festival")
    with pytest.raises(TokgenError, match="has none"):  # a silent prompt: no voice to take
        converting.generate("tts", texts[0], prompt_audio=torch.zeros(SR * 2), sample_rate=SR)


def test_convert_voice_gives_the_prompts_means_and_pitch_spread_and_keeps_the_rest(model):
    from tokgen.tts.pipeline import convert_voice

    torch.manual_seed(0)
    source, prompt = torch.randn(1, 49, 80) * 2 + 1, torch.randn(1, 49, 60) * 0.5 - 1
    out = convert_voice(source, prompt, model.net)
    ours, theirs = model.net.normalize(out), model.net.normalize(prompt)
    mine = model.net.normalize(source)
    channels = [0, *range(2, 49)]  # all but voicing
    torch.testing.assert_close(ours.mean(-1)[:, channels], theirs.mean(-1)[:, channels],
                               atol=1e-4, rtol=0)  # fmt: skip
    spread = ours.std(-1, correction=0)
    torch.testing.assert_close(spread[:, 0], theirs.std(-1, correction=0)[:, 0])  # ln F0
    torch.testing.assert_close(spread[:, 2:], mine.std(-1, correction=0)[:, 2:])  # flite's
    torch.testing.assert_close(out[:, 1], source[:, 1])  # voicing kept


def test_match_pitch_gives_the_output_the_prompts_pitch():
    from tokgen.tts.pipeline import match_pitch

    torch.manual_seed(0)
    latent, prompt = torch.randn(1, 49, 80), torch.randn(1, 49, 60)
    latent[0, 1], prompt[0, 1] = 1.0, 1.0  # voiced throughout
    latent[0, 1, :10] = 0.0  # but the first frames
    latent[0, 0] = 4.6 + 0.1 * latent[0, 0]  # ~100 Hz, narrow
    prompt[0, 0] = 5.3 + 0.2 * prompt[0, 0]  # ~200 Hz, wider
    out = match_pitch(latent, prompt)
    voiced = out[0, 0, 10:]
    assert abs(voiced.mean() - prompt[0, 0].mean()) < 1e-4
    assert abs(voiced.std() / prompt[0, 0].std() - 1) < 1e-3
    assert torch.equal(out[0, :, :10], latent[0, :, :10]) and torch.equal(out[0, 1:], latent[0, 1:])
    assert torch.equal(match_pitch(latent, torch.zeros(1, 49, 60)), latent)  # unvoiced prompt


def test_the_postfilter_deepens_formants_and_is_off_at_one(model):
    from tokgen.tts.pipeline import sharpen_envelope

    settings = model.codec.settings
    latent = torch.randn(1, 49, 20)
    sharp = sharpen_envelope(latent, 1.3, settings)
    assert torch.equal(sharp[:, :6], latent[:, :6]) and torch.equal(sharp[:, 44:], latent[:, 44:])
    torch.testing.assert_close(sharp[:, 6:44], latent[:, 6:44] * 1.3)  # coefficients 2..39
    prompt = str(REPO / "tokgen" / "assets" / "sample_speech.wav")
    plain = model.generate("tts", "Hi there.", prompt_audio=prompt)
    assert model.postfilter == 1.0  # a config without the field: off
    model.postfilter = 1.3
    try:
        sharpened = model.generate("tts", "Hi there.", prompt_audio=prompt)
    finally:
        model.postfilter = 1.0
    torch.testing.assert_close(sharpened.latents, sharpen_envelope(plain.latents, 1.3, settings))
    with pytest.raises(TokgenError, match="postfilter > 0"):
        DurationTTSConfig(postfilter=0.0)


def test_the_accelerator_script_trains_the_tts_in_tiny_mode(speech, tmp_path):
    import os

    latents, alignments = speech
    out = tmp_path / "out"
    script = REPO / "scripts" / "train_on_accelerator.sh"
    subprocess.run([str(script), "--tiny", str(latents), str(out), str(alignments)], check=True,
                   timeout=300, env={**os.environ, "KIND": "tts"})  # fmt: skip
    assert "trained in" in (out / "train.log").read_text()
    a, b = (
        load_tts_net(out / "model").state_dict(),
        load_tts_net(out / "run" / "model").state_dict(),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_generate_help_offers_what_the_duration_tts_takes(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "tts", "--help", "--model", "tokgen-tts-small"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--speed" in text and "its last 3 s (optional)" in text
    assert "--temperature" not in text and "--duration" not in text


@pytest.mark.parametrize("which", ["model", "converting"])
def test_the_bench_times_each_piece_of_either_acoustics(which, request):
    from tokgen.eval.bench import bench_duration_tts

    rows = bench_duration_tts(request.getfixturevalue(which), repeats=1, batch=2)
    names = [row.setting for row in rows]
    middle = ["network"] if which == "model" else ["WORLD analysis of flite's rendering",
                                                   "voice conversion"]  # fmt: skip
    assert names[1:-3] == ["WORLD analysis of a 3 s prompt", *middle]
    assert names[-2:] == ["generate(), batch 1", "generate(), batch 2"]
    assert all(row.median_s > 0 and row.speedup > 0 for row in rows)
    assert next(r for r in rows if r.setting == "generate(), batch 1").relative == 1.0


def test_generate_runs_on_one_thread_and_gives_the_threads_back(model, monkeypatch):
    seen = []
    forward = type(model.net).forward
    monkeypatch.setattr(type(model.net), "forward",
                        lambda net, *a, **k: (seen.append(torch.get_num_threads()),
                                              forward(net, *a, **k))[1])  # fmt: skip
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model.generate("tts", "Good morning.")
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("which", ["model", "converting"])
def test_speech_over_the_longest_duration_is_refused_before_it_is_made(which, request):
    tts = request.getfixturevalue(which)
    text = "The red bridge crossed the long and quiet river at dawn. " * 12  # about 35 s
    seconds = sum(flite_phones(text).frame_durations(50.0)) / 50.0
    assert seconds > tts.config.max_duration
    with pytest.raises(TokgenError, match="split it into sentences"):
        tts.generate("tts", ["Hi.", text])


def test_the_flite_acoustics_render_with_the_flite_voice_nearest_the_prompts_pitch(converting):
    from tokgen.tts.pipeline import FLITE_VOICES, flite_voice

    def prompt(hz: float) -> torch.Tensor:  # the parametric latent: ln F0, voicing, ...
        latent = torch.zeros(1, 49, 50)
        latent[0, 0], latent[0, 1] = math.log(hz), 1.0
        return latent

    picks = [flite_voice(prompt(hz), FLITE_VOICES) for hz in (90, 149, 151, 220)]
    assert picks == ["kal16", "kal16", "slt", "slt"]
    assert flite_voice(torch.zeros(1, 49, 50), FLITE_VOICES) == "kal16"  # nothing voiced
    text = "Good morning."
    female = (flite_speak(text, "slt")[1], 16_000)  # flite's own female voice as the prompt
    out = converting.generate("tts", text, prompt_audio=female)
    assert out.lengths[0] == -(-len(flite_speak(text, "slt")[1]) // 320) * 320  # slt's timing
    converting.flite_voices = (("kal16", 0.0),)  # every voice from kal16
    try:
        out = converting.generate("tts", text, prompt_audio=female)
    finally:
        converting.flite_voices = FLITE_VOICES
    assert out.lengths[0] == -(-len(flite_speak(text)[1]) // 320) * 320
