"""The latent diffusion decoder: objectives vs schedulers, sampling, guidance, batching,
durations, checkpoints, bad inputs, latent corpora and training (tiny random models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import tone

import tokgen
from tokgen.cli import main
from tokgen.codecs import load_codec
from tokgen.data.token_corpus import TokenCorpus
from tokgen.data.tokenize import tokenize_manifest
from tokgen.diffusion import DiffusionConfig, LatentDiT, load_diffusion, save_diffusion
from tokgen.diffusion.model import Conditioning
from tokgen.diffusion.objective import (
    add_noise,
    alphas_cumprod,
    make_scheduler,
    model_time,
    noised_known,
    start_noise,
)
from tokgen.diffusion.pipeline import load_dit
from tokgen.errors import InvalidInputError, TokgenError
from tokgen.training.diffusion_training import load_diffusion_train_config, train_diffusion

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "diffusion" / "tiny.yaml"
SR = 16_000


@pytest.fixture(scope="module")
def model():
    return tokgen.load("tokgen-diffusion-debug")


@pytest.mark.parametrize("objective", ["v", "flow"])
def test_sampler_with_an_exact_denoiser_returns_the_clean_latent(objective):
    """Training's corruption and the diffusers sampler agree: a denoiser that knows x0
    (its target computed from x_t as training defines it) leads the sampler back to x0."""
    config = DiffusionConfig(objective=objective, latent_dim=3)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 3, 5, generator=g), torch.randn(2, 3, 5, generator=g)
    noised = add_noise(config, x0, noise, g)
    assert noised.noisy.shape == x0.shape and ((noised.time >= 0) & (noised.time <= 1)).all()
    scheduler = make_scheduler(config)
    scheduler.set_timesteps(8)
    x = start_noise(scheduler, noise)
    for t in scheduler.timesteps:
        time = torch.full((2,), model_time(config, t))
        if objective == "v":  # from x_t = a x0 + s n with the schedule's a(t)
            level = scheduler.alphas_cumprod[int(t)]
            a, s = level.sqrt(), (1 - level).sqrt()
            target = (a * x - x0) / s
        else:  # x_t = (1 - t) x0 + t n
            target = (x - x0) / time[:, None, None]
        x = scheduler.step(target, t, x).prev_sample
    torch.testing.assert_close(x, x0, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("objective", ["v", "flow"])
def test_inpainting_noise_matches_the_training_corruption(objective):
    """Continuation holds known frames at each step's noise level as training made them."""
    config = DiffusionConfig(objective=objective, latent_dim=3)
    x0, noise = torch.randn(1, 3, 6), torch.randn(1, 3, 6)
    scheduler = make_scheduler(config)
    scheduler.set_timesteps(6)
    levels = alphas_cumprod(config)
    for t in scheduler.timesteps:
        held = noised_known(scheduler, config, x0, noise, t)
        if objective == "v":
            a = levels[int(t)]
            expected = a.sqrt() * x0 + (1 - a).sqrt() * noise
        else:
            time = model_time(config, t)
            expected = (1 - time) * x0 + time * noise
        torch.testing.assert_close(held, expected, atol=1e-4, rtol=1e-4)


def test_seeded_generation_is_golden_and_reproducible(model):
    out = model.generate("tta", "a bird sings", duration=0.5, seed=0)
    again = model.generate("tta", "a bird sings", duration=0.5, seed=0)
    assert out.audio.shape == (1, 1, 8000) and out.lengths == [8000]
    assert out.codes.shape == (1, model.codec.num_codebooks, 25)
    torch.testing.assert_close(out.audio, again.audio)
    assert out.latents.shape == (1, model.codec.latent_dim, 25)
    assert [round(v, 3) for v in out.latents[0, :4, 0].tolist()] == GOLDEN_LATENT
    other = model.generate("tta", "a bird sings", duration=0.5, seed=1)
    assert not torch.equal(other.audio, out.audio)


GOLDEN_LATENT = [-0.739, -0.579, 0.557, 0.105]


def test_cfg_scale_one_is_unguided_and_other_scales_differ(model, monkeypatch):
    plain = model.generate("tta", "rain", duration=0.4, seed=3, cfg_scale=1.0)
    guided = model.generate("tta", "rain", duration=0.4, seed=3, cfg_scale=4.0)
    assert not torch.allclose(plain.audio, guided.audio)
    # at scale 1 the unconditional branch is never used
    monkeypatch.setattr(Conditioning, "dropped", lambda self: 1 / 0)
    again = model.generate("tta", "rain", duration=0.4, seed=3, cfg_scale=1.0)
    torch.testing.assert_close(plain.audio, again.audio)


def test_a_batch_equals_its_items_and_durations_are_respected(model):
    texts, durations = ["rain", "a bell rings"], [0.6, 0.3]
    batch = model.generate("tta", texts, duration=durations, seed=5, steps=3)
    hop = model.codec.hop_length
    assert batch.lengths == [round(d * 50) * hop for d in durations]
    assert batch.audio[1, :, batch.lengths[1] :].abs().max() == 0
    assert (batch.codes[1, :, 15:] == -1).all() and (batch.codes[0] >= 0).all()
    for i, (text, seconds) in enumerate(zip(texts, durations)):
        one = model.generate("tta", text, duration=seconds, seed=5 + i, steps=3)
        torch.testing.assert_close(
            batch.audio[i, :, : one.lengths[0]], one.audio[0], atol=1e-4, rtol=1e-4
        )


def test_continuation_holds_the_prompt_and_returns_what_follows(model):
    prompt = tone(1.0, SR, 330.0)
    out = model.generate("continuation", audio=(prompt, SR), duration=0.5, seed=0, steps=2)
    assert out.lengths == [8000] and out.audio.shape == (1, 1, 8000)
    captioned = model.generate(
        "continuation", "a flute", audio=(prompt, SR), duration=0.5, seed=0, steps=2
    )
    assert not torch.equal(captioned.audio, out.audio)


def test_latent_statistics_are_saved_and_reloaded(tmp_path):
    config = DiffusionConfig(codec="tokgen-codec-debug", latent_dim=4, width=16, heads=2,
                             layers=1)  # fmt: skip
    dit = LatentDiT(config)
    low, high = torch.tensor([-5.0, -9.0, -1.0, -6.0]), torch.tensor([7.0, 5.0, 2.0, 12.0])
    dit.set_statistics(torch.tensor([1.0, -2.0, 0.5, 3.0]), torch.tensor([2.0, 0.5, 1.0, 4.0]),
                       low, high)  # fmt: skip
    save_diffusion(dit, tmp_path / "m")
    index = json.loads((tmp_path / "m" / "model_index.json").read_text())
    assert index["transformer"] == "transformer" and index["scheduler"] == "scheduler"
    assert (tmp_path / "m" / "scheduler" / "scheduler_config.json").is_file()
    loaded = load_dit(tmp_path / "m")
    torch.testing.assert_close(loaded.latent_mean, dit.latent_mean)
    torch.testing.assert_close(loaded.latent_std, dit.latent_std)
    x = torch.randn(1, 4, 7)
    torch.testing.assert_close(
        loaded.denormalize(loaded.normalize(x)), x.clamp(low[:, None], high[:, None])
    )
    far = loaded.denormalize(torch.full((1, 4, 2), 100.0))  # samples stay in the data's range
    torch.testing.assert_close(far[0, :, 0], high)
    state = dit.state_dict()
    assert all(torch.equal(state[k], v) for k, v in loaded.state_dict().items())
    for name in ("latent_low", "latent_high"):  # checkpoints from before the range still load
        del state[name]
    LatentDiT(config).load_state_dict(state)


def test_samples_hold_nothing_the_dit_cannot_predict(tmp_path):
    """With more latent channels per position (D * patch) than width, every prediction lies
    in a subspace; the start noise outside it is dropped, not decoded as sound."""
    config = DiffusionConfig(codec="tokgen-codec-debug", latent_dim=16, width=16, heads=2,
                             layers=1, steps=3, objective="flow")  # fmt: skip
    torch.manual_seed(0)
    save_diffusion(LatentDiT(config), tmp_path / "m")
    model = load_diffusion(tmp_path / "m")
    basis = model.dit.output_basis()
    assert basis.shape == (32, 16)
    torch.testing.assert_close(basis.T @ basis, torch.eye(16), atol=1e-5, rtol=0)
    noise = torch.randn(1, 16, 20)
    assert model.dit.off_span(noise, basis).norm() > 0.5 * noise.norm()  # half of it is off
    out = model.generate("tta", "rain", duration=0.4, seed=0)  # statistics 0 / 1: x = latent
    assert model.dit.off_span(out.latents, basis).abs().max() < 1e-4
    wav = tone(0.4)[0]  # the ceiling a perfect model of this size could reach is in-span
    direct = model.codec.decode_latent(model.codec.encode_latent(wav, SR), length=len(wav))
    assert not torch.allclose(model.reconstruct(wav, SR), direct[0, 0])
    full = LatentDiT(DiffusionConfig(latent_dim=4, width=16, heads=2, layers=1))  # 8 <= 16
    assert full.off_span(noise[:, :4], full.output_basis()).abs().max() < 1e-5


def test_the_scheduler_folder_is_what_samples(tmp_path):
    config = DiffusionConfig(codec="tokgen-codec-debug", latent_dim=16, width=16, heads=2,
                             layers=1, steps=3)  # fmt: skip
    torch.manual_seed(0)
    save_diffusion(LatentDiT(config), tmp_path / "m")
    before = load_diffusion(tmp_path / "m").generate("tta", "rain", duration=0.4, seed=0)
    path = tmp_path / "m" / "scheduler" / "scheduler_config.json"
    scheduler = json.loads(path.read_text())
    path.write_text(json.dumps({**scheduler, "solver_order": 1}))
    after = load_diffusion(tmp_path / "m").generate("tta", "rain", duration=0.4, seed=0)
    assert not torch.allclose(before.latents, after.latents)
    path.write_text(json.dumps({**scheduler, "_class_name": "NotAScheduler"}))
    with pytest.raises(TokgenError, match="not a diffusers scheduler"):
        load_diffusion(tmp_path / "m").generate("tta", "rain", duration=0.4, seed=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (dict(task="tta", text="rain", steps=0), "steps"),
        (dict(task="tta", text="rain", duration=60.0), "duration"),
        (dict(task="tta", text="rain", duration=0.0), "duration"),
        (dict(task="tta", text="  "), "caption"),
        (dict(task="tta"), "text="),
        (dict(task="tta", text="rain", temperature=0.5), "temperature"),
        (dict(task="tta", text="rain", cfg_scale=-1.0), "cfg_scale"),
        (dict(task="tts", text="hello"), "tts"),
        (dict(task="continuation"), "audio="),
        (dict(task="tta", text="rain", prompt_audio="x.wav"), "prompt_audio"),
    ],
)
def test_bad_inputs_name_the_problem(model, call, message):
    with pytest.raises(InvalidInputError, match=message):
        model.generate(**call)


def test_nan_latents_are_refused(model):
    nan = torch.full((1, model.codec.latent_dim, 4), float("nan"))
    for method in (model.codec.decode_latent, model.codec.quantize_latent):
        with pytest.raises(TokgenError, match="NaN"):
            method(nan)


@pytest.fixture(scope="module")
def latents(tmp_path_factory) -> Path:
    """A tiny latent corpus of the debug codec: tones with captions (and a speech row that
    ``--kinds`` leaves out)."""
    root = tmp_path_factory.mktemp("latent-corpus")
    rows = []
    for i in range(6):
        name = f"c{i}.wav"
        sf.write(root / name, tone(1.0 + 0.2 * i, SR, 200 + 100 * i).T.numpy(), SR)
        kind = "speech" if i == 5 else "music"
        rows.append({"id": f"c{i}", "kind": kind, "duration": 1.0 + 0.2 * i, "path": name,
                     "captions": [f"a tone number {i}", "a tone"]})  # fmt: skip
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = root / "latents"
    tokenize_manifest(load_codec("tokgen-codec-debug"), manifest, out, latents=True,
                      kinds=["music"], progress=False)  # fmt: skip
    return out


def test_latent_corpus_holds_latents_of_the_asked_kinds(latents):
    corpus = TokenCorpus(latents)
    codec = load_codec("tokgen-codec-debug")
    assert corpus.header.latents and corpus.header.kinds == ["music"] and len(corpus) == 5
    latent = corpus.latents(0)
    assert latent.dtype == torch.float32 and latent.shape == (codec.latent_dim, 50)
    wav = torch.from_numpy(sf.read(latents.parent / "c0.wav", dtype="float32")[0])
    expected = codec.encode_latent(wav, SR)[0]
    torch.testing.assert_close(latent, expected, atol=2e-2, rtol=1e-2)  # stored as float16
    with pytest.raises(InvalidInputError, match="latents"):
        corpus.codes(0)
    with pytest.raises(InvalidInputError, match="other settings"):  # codes into a latent folder
        tokenize_manifest(codec, latents.parent / "train.jsonl", latents, progress=False)


def _tiny(latents: Path, out: Path, *overrides: str):
    sets = [f"data.latents={latents}", f"run.out_dir={out}", *overrides]
    return load_diffusion_train_config(TINY, sets)


def test_train_diffusion_exports_resumes_exactly_and_fine_tunes(latents, tmp_path):
    export = train_diffusion(_tiny(latents, tmp_path / "run"))
    model = load_diffusion(export)
    assert model.config.codec == "tokgen-codec-debug"
    corpus_mean = torch.cat([TokenCorpus(latents).latents(i) for i in range(5)], -1).mean(-1)
    torch.testing.assert_close(model.dit.latent_mean, corpus_mean, atol=1e-3, rtol=1e-3)
    assert (model.dit.latent_low < model.dit.latent_mean).all()
    out = model.generate("tta", "a tone", duration=0.5, seed=0)
    assert out.audio.shape == (1, 1, 8000) and torch.isfinite(out.audio).all()
    straight = train_diffusion(
        _tiny(latents, tmp_path / "a", "run.max_steps=4", "run.save_every=2")
    )
    train_diffusion(_tiny(latents, tmp_path / "b", "run.max_steps=2", "run.save_every=2"))
    resumed = train_diffusion(_tiny(latents, tmp_path / "b", "run.max_steps=4", "run.save_every=2"))
    a, b = load_dit(straight).state_dict(), load_dit(resumed).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the EMA weights, exported
    tuned = _tiny(latents, tmp_path / "tuned")
    tuned.init_from = str(export)
    after = load_dit(train_diffusion(tuned)).state_dict()
    before = load_dit(export).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_the_fine_tuning_recipe_starts_from_a_model_and_trains(latents, tmp_path):
    base = train_diffusion(_tiny(latents, tmp_path / "base"))
    sets = [f"data.latents={latents}", f"run.out_dir={tmp_path / 'tuned'}", "run.max_steps=2",
            "data.batch_size=2", f"init_from={base}"]  # fmt: skip
    config = load_diffusion_train_config(REPO / "diffusion" / "finetune_tta.yaml", sets)
    tuned = load_dit(train_diffusion(config))
    assert tuned.config == load_dit(base).config


def test_training_needs_a_latent_corpus(tmp_path):
    codec = load_codec("tokgen-codec-debug")
    sf.write(tmp_path / "a.wav", tone(1.0, SR).T.numpy(), SR)
    row = {"id": "a", "kind": "music", "duration": 1.0, "path": "a.wav", "captions": ["a"]}
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n")
    tokenize_manifest(codec, tmp_path / "m.jsonl", tmp_path / "codes", progress=False)
    with pytest.raises(TokgenError, match="--latents"):
        train_diffusion(_tiny(tmp_path / "codes", tmp_path / "run"))


def test_cli_generates_trains_and_loads_by_name(latents, tmp_path, capsys):
    out = tmp_path / "x.wav"
    argv = ["generate", "tta", "a bell", "--model", "tokgen-diffusion-debug", "--steps", "2"]
    assert main([*argv, "--duration", "0.5", "--seed", "0", "-o", str(out)]) == 0
    assert sf.info(str(out)).frames == 8000
    run = tmp_path / "run"
    argv = ["train", "diffusion", "--config", str(TINY), "--set", f"data.latents={latents}"]
    assert main([*argv, "--set", f"run.out_dir={run}"]) == 0
    assert "written to" in capsys.readouterr().out
    loaded = tokgen.load(str(run / "model"))
    assert loaded.tasks == ["tta", "continuation"]
    with pytest.raises(InvalidInputError, match="steps"):  # an LM has no diffusion steps
        tokgen.load("tokgen-lm-debug").generate("tta", "a bell", steps=4)


def test_the_accelerator_script_trains_a_diffusion_recipe_in_tiny_mode(latents, tmp_path):
    import os
    import subprocess

    out = tmp_path / "out"
    script = REPO / "scripts" / "train_on_accelerator.sh"
    env = {**os.environ, "KIND": "diffusion"}
    subprocess.run([str(script), "--tiny", str(latents), str(out)], check=True, timeout=300,
                   env=env)  # fmt: skip
    assert "trained in" in (out / "train.log").read_text()
    shipped = load_dit(out / "model").state_dict()
    trained = load_dit(out / "run" / "model").state_dict()
    assert all(torch.allclose(trained[k], shipped[k], atol=1e-2, rtol=1e-2) for k in trained)
