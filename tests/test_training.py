"""The shared trainer on a tiny codec: runs, exports, resumes exactly, trains a GAN step,
and trains data-parallel in two CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate.state import AcceleratorState

import tokgen
from tokgen.errors import ConfigError
from tokgen.training.codec_training import CodecTask, train_codec
from tokgen.training.config import load_codec_train_config
from tokgen.training.losses import CompressedComplexSTFTLoss, MultiScaleMelLoss

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "codecs" / "tiny.yaml"


def tiny_config(data: Path, out: Path, *extra: str):
    return load_codec_train_config(TINY, [f"data.train={data}", f"run.out_dir={out}", *extra])


def test_train_exports_a_loadable_codec(audio_dir, tmp_path):
    export = train_codec(tiny_config(audio_dir, tmp_path / "run"))
    codec = tokgen.load_codec(export)
    assert codec.name == "tokgen-codec-tiny"
    assert codec.encode(torch.zeros(3200), 16_000).shape == (1, 2, 10)
    assert (tmp_path / "run" / "logs").is_dir()  # TensorBoard events
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "step_00000002",
        "step_00000004",
    ]


def test_resume_is_exact(audio_dir, tmp_path):
    straight = train_codec(tiny_config(audio_dir, tmp_path / "a"))
    train_codec(tiny_config(audio_dir, tmp_path / "b", "run.max_steps=2"))
    resumed = train_codec(tiny_config(audio_dir, tmp_path / "b"))
    a = tokgen.load_codec(straight).state_dict()
    b = tokgen.load_codec(resumed).state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_sigterm_saves_and_the_rerun_resumes_exactly(audio_dir, tmp_path, monkeypatch):
    straight = train_codec(tiny_config(audio_dir, tmp_path / "a"))
    steps = []
    original = CodecTask.train_step

    def step_then_signal(self, wav, step, update):
        logs = original(self, wav, step, update)
        steps.append(step)
        if step == 0:  # a signal during the first step; save_every is 2
            os.kill(os.getpid(), signal.SIGTERM)
        return logs

    monkeypatch.setattr(CodecTask, "train_step", step_then_signal)
    train_codec(tiny_config(audio_dir, tmp_path / "b"))
    assert steps == [0]  # the step in progress finished, then the run stopped
    checkpoints = sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir())
    assert checkpoints == ["step_00000001"]
    assert (tmp_path / "b" / "model").is_dir()  # exported too
    monkeypatch.undo()
    resumed = train_codec(tiny_config(audio_dir, tmp_path / "b"))
    a = tokgen.load_codec(straight).state_dict()
    b = tokgen.load_codec(resumed).state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_mixed_precision_runs_the_step_under_autocast(audio_dir, tmp_path, monkeypatch):
    seen = []
    original = CodecTask.train_step

    def record(self, wav, step, update):
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return original(self, wav, step, update)

    monkeypatch.setattr(CodecTask, "train_step", record)
    AcceleratorState._reset_state(True)  # accelerate fixes the precision once per process
    try:
        train_codec(tiny_config(audio_dir, tmp_path / "a", "run.mixed_precision=bf16"))
    finally:
        AcceleratorState._reset_state(True)
    train_codec(tiny_config(audio_dir, tmp_path / "b"))
    assert seen == [torch.bfloat16] * 4 + [None] * 4


def test_discriminator_step(audio_dir, tmp_path):
    config = tiny_config(
        audio_dir,
        tmp_path / "gan",
        "discriminator.enabled=true",
        "discriminator.filters=4",
        "run.max_steps=2",
    )
    train_codec(config)
    state = json.loads(
        (tmp_path / "gan" / "checkpoints" / "step_00000002" / "trainer_state.json").read_text()
    )
    assert state["step"] == 2
    assert (tmp_path / "gan" / "checkpoints" / "step_00000002" / "model_1.safetensors").is_file()
    config.run.max_steps = 3  # resumes codec and discriminator from step 2
    train_codec(config)
    assert (tmp_path / "gan" / "checkpoints" / "step_00000003").is_dir()


def test_init_from_starts_from_saved_weights(audio_dir, tmp_path):
    first = train_codec(tiny_config(audio_dir, tmp_path / "a", "run.max_steps=2"))
    # lr 0: the trained parameters stay what init_from gave them (EMA codebooks still move)
    config = tiny_config(audio_dir, tmp_path / "b", "optim.lr=0", "loss.complex_stft=1")
    config.init_from = str(first)
    second = train_codec(config)
    a = dict(tokgen.load_codec(first).named_parameters())
    b = dict(tokgen.load_codec(second).named_parameters())
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_does_not_need_init_from_again(audio_dir, tmp_path):
    first = train_codec(tiny_config(audio_dir, tmp_path / "a", "run.max_steps=2"))
    config = tiny_config(audio_dir, tmp_path / "b", "run.max_steps=2")
    config.init_from = str(first)
    train_codec(config)
    config.init_from, config.run.max_steps = str(tmp_path / "gone"), 3  # the checkpoint wins
    train_codec(config)
    assert (tmp_path / "b" / "checkpoints" / "step_00000003").is_dir()


def test_init_from_refuses_another_architecture(audio_dir, tmp_path):
    config = tiny_config(audio_dir, tmp_path / "b", "codec.n_filters=8")
    config.init_from = str(train_codec(tiny_config(audio_dir, tmp_path / "a", "run.max_steps=2")))
    with pytest.raises(ConfigError, match="different architecture"):
        train_codec(config)


def test_freeze_keeps_the_tokens_fixed(audio_dir, tmp_path):
    first = train_codec(tiny_config(audio_dir, tmp_path / "a", "run.max_steps=2"))
    config = tiny_config(audio_dir, tmp_path / "b", "optim.lr=0.01")
    config.init_from, config.freeze = str(first), ["encoder", "quantizer"]
    second = train_codec(config)
    a, b = tokgen.load_codec(first).state_dict(), tokgen.load_codec(second).state_dict()
    frozen = [k for k in a if k.startswith(("encoder.", "quantizer."))]
    assert frozen and all(torch.equal(a[k], b[k]) for k in frozen)  # incl. EMA codebooks
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("decoder."))
    config.freeze = ["nonsense"]
    with pytest.raises(ConfigError, match="no part 'nonsense'"):
        train_codec(config)


def test_new_decoder_on_frozen_encoder_keeps_the_tokens(audio_dir, tmp_path):
    first = train_codec(tiny_config(audio_dir, tmp_path / "a", "run.max_steps=2"))
    config = tiny_config(
        audio_dir, tmp_path / "b", "codec.decoder=vocos", "codec.decoder_dim=16", "run.max_steps=2"
    )
    config.init_from, config.freeze = str(first), ["encoder", "quantizer"]
    with pytest.raises(ConfigError, match="init_parts"):  # the decoders differ
        train_codec(config)
    config.init_parts = ["encoder", "quantizer"]
    old, new = tokgen.load_codec(first), tokgen.load_codec(train_codec(config))
    assert new.config.decoder == "vocos" and new.config_hash == old.config_hash
    wav = torch.randn(1, 1, 6400)
    assert torch.equal(old.encode(wav, 16_000), new.encode(wav, 16_000))
    assert new.decode(new.encode(wav, 16_000)).shape == (1, 1, 6400)
    config.codec["n_q"] = 1  # other tokens: refused (in a fresh run: a resume skips init_from)
    config.run.out_dir = str(tmp_path / "c")
    with pytest.raises(ConfigError, match="different tokens"):
        train_codec(config)


def test_frame_magnitude_loss_trains_a_griffin_lim_decoder(audio_dir, tmp_path):
    extra = ("codec.decoder=vocos", "codec.decoder_dim=16", "codec.decoder_phase=griffin_lim")
    config = tiny_config(audio_dir, tmp_path / "a", *extra, "loss.frame_magnitude=1")
    codec = tokgen.load_codec(train_codec(config))
    assert codec.config.decoder_phase == "griffin_lim"
    assert codec.decode(codec.encode(torch.randn(1, 1, 3200), 16_000)).shape == (1, 1, 3200)
    seanet = tiny_config(audio_dir, tmp_path / "b", "loss.frame_magnitude=1")
    with pytest.raises(ConfigError, match="decoder: vocos"):
        train_codec(seanet)


def test_spectral_encoder_codec_trains_and_exports(audio_dir, tmp_path):
    extra = ("codec.encoder=spectral", "codec.encoder_dim=16", "codec.decoder=vocos")
    config = tiny_config(audio_dir, tmp_path / "a", *extra, "codec.decoder_dim=16")
    codec = tokgen.load_codec(train_codec(config))
    assert codec.config.encoder == "spectral"
    assert codec.encode(torch.randn(1, 1, 3200), 16_000).shape == (1, 2, 10)


def test_magnitude_discriminator_trains_and_resumes(audio_dir, tmp_path):
    extra = ("codec.decoder=vocos", "codec.decoder_dim=16", "loss.frame_magnitude=1")
    gan = ("discriminator.enabled=true", "discriminator.kind=magnitude", "discriminator.filters=4")
    config = tiny_config(audio_dir, tmp_path / "gan", *extra, *gan, "run.max_steps=2")
    train_codec(config)
    config.run.max_steps = 3  # resumes the discriminator too
    train_codec(config)
    assert (tmp_path / "gan" / "checkpoints" / "step_00000003" / "model_1.safetensors").is_file()
    seanet = tiny_config(audio_dir, tmp_path / "b", *gan)
    with pytest.raises(ConfigError, match="decoder: vocos"):
        train_codec(seanet)


def test_complex_stft_loss_sees_phase():
    loss = CompressedComplexSTFTLoss()
    t = torch.arange(16_000) / 16_000
    wave = torch.sin(2 * torch.pi * 220 * t)[None, None]
    shifted = torch.cos(2 * torch.pi * 220 * t)[None, None]  # same magnitude, other phase
    assert loss(wave, wave).item() < 1e-6
    # a quarter-period shift costs more than a 10% gain error, which a mel loss would not say
    assert loss(shifted, wave).item() > loss(1.1 * wave, wave).item()


def test_warmup_ramps_the_learning_rate_and_resumes_exactly(audio_dir, tmp_path):
    warm = "optim.warmup_steps=4"
    train_codec(tiny_config(audio_dir, tmp_path / "b", warm, "run.max_steps=2"))
    state = torch.load(
        tmp_path / "b" / "checkpoints" / "step_00000002" / "custom_checkpoint_0.pkl",
        weights_only=True,
    )
    assert state["last_epoch"] == 2
    assert state["_last_lr"][0] == pytest.approx(0.75 * 3e-4)  # step 3 of 4 of the ramp
    resumed = train_codec(tiny_config(audio_dir, tmp_path / "b", warm))
    straight = train_codec(tiny_config(audio_dir, tmp_path / "a", warm))
    a = tokgen.load_codec(straight).state_dict()
    b = tokgen.load_codec(resumed).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_override_reads_exponent_numbers():
    assert load_codec_train_config(TINY, ["optim.lr=2e-3"]).optim.lr == 2e-3
    assert load_codec_train_config(TINY, ["run.out_dir=1e3x"]).run.out_dir == "1e3x"


def test_config_errors(tmp_path, audio_dir):
    with pytest.raises(ConfigError, match="unknown field"):
        load_codec_train_config(TINY, ["run.max_stepz=3"])
    with pytest.raises(ConfigError, match="unknown section"):
        load_codec_train_config(TINY, ["nope.x=1"])
    with pytest.raises(ConfigError, match="not found"):
        load_codec_train_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="cannot fill one batch"):
        train_codec(tiny_config(audio_dir, tmp_path / "r", "data.batch_size=64"))
    with pytest.raises(ConfigError, match="whole number"):
        train_codec(tiny_config(audio_dir, tmp_path / "r", "data.segment_seconds=0.21"))
    with pytest.raises(ConfigError, match="mixed_precision must be one of"):
        load_codec_train_config(TINY, ["run.mixed_precision=fp64"])
    assert load_codec_train_config(TINY, ["run.mixed_precision=no"]).run.mixed_precision == "no"


def test_two_process_gloo_training(audio_dir, tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "tokgen.cli",
        "train",
        "codec",
        "--config",
        str(TINY),
        "--set",
        f"data.train={audio_dir}",
        "--set",
        f"run.out_dir={out}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    last = out / "checkpoints" / "step_00000004"
    state = json.loads((last / "trainer_state.json").read_text())
    assert state["num_processes"] == 2
    assert (last / "random_states_1.pkl").is_file()
    assert tokgen.load_codec(out / "model").encode(torch.zeros(640), 16_000).shape == (1, 2, 2)


def test_more_mel_bands_see_high_harmonics():
    t = torch.arange(16_000) / 16_000

    def comb(offset: float) -> torch.Tensor:  # harmonics from 3 to 4 kHz, 200 Hz apart
        freqs = torch.arange(3000.0, 4001.0, 200.0) + offset
        return 0.05 * torch.sin(2 * torch.pi * freqs[:, None] * t).sum(0)[None, None]

    harmonics, between = comb(0.0), comb(100.0)  # same envelope, other partials
    coarse = MultiScaleMelLoss(16_000, n_mels=64)(harmonics, between).item()
    fine = MultiScaleMelLoss(16_000, n_mels=256)(harmonics, between).item()
    assert fine > 1.5 * coarse
