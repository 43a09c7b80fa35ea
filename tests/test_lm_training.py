"""``tokgen train lm`` on a tiny token corpus: all four tasks, a YAML task, resume, LoRA."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import tone

from tokgen.data.token_corpus import TokenCorpus
from tokgen.data.tokenize import tokenize_manifest
from tokgen.errors import ConfigError, InvalidInputError
from tokgen.lm.checkpoint import load_lm
from tokgen.tasks import builtin_task
from tokgen.text import TextFrontend
from tokgen.training.config import load_lm_train_config
from tokgen.training.examples import TaskExamples
from tokgen.training.lm_training import train_lm

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "lm" / "tiny.yaml"
SENTENCES = ["The cat sat down.", "A dog ran home.", "Birds sing at 5.", "Rain fell today."]


def _wav(root: Path, name: str, seconds: float, freq: float) -> str:
    sf.write(root / name, tone(seconds, freq=freq).T.numpy(), 16_000)
    return name


@pytest.fixture(scope="module")
def tokens(tmp_path_factory, debug_codec) -> Path:
    """Speech (2 voices) and noisy copies, music with captions, and a 2-source mixture."""
    root = tmp_path_factory.mktemp("corpus")
    rows = []
    for i, text in enumerate(SENTENCES):
        rows.append({
            "id": f"speech-{i}", "kind": "speech", "transcript": text, "voice": f"v{i % 2}",
            "captions": ["a person speaking"], "duration": 0.6, "sample_rate": 16_000,
            "path": _wav(root, f"s{i}.wav", 0.6, 150 + 20 * i),
        })  # fmt: skip
        rows.append({
            "id": f"noisy-{i}", "kind": "noisy_speech", "duration": 0.6, "sample_rate": 16_000,
            "path": _wav(root, f"n{i}.wav", 0.6, 160 + 20 * i), "clean_path": f"s{i}.wav",
        })  # fmt: skip
    for i in range(2):
        rows.append({
            "id": f"music-{i}", "kind": "music", "captions": [f"a flute {i}", f"flute tune {i}"],
            "duration": 1.0, "sample_rate": 16_000, "path": _wav(root, f"m{i}.wav", 1.0, 400 + 50 * i),
        })  # fmt: skip
    sources = [
        {"path": _wav(root, f"x-s{j}.wav", 1.0, 300 + 200 * j), "query": ["speech", "a flute"][j]}
        for j in range(2)
    ]
    rows.append({
        "id": "mixture-0", "kind": "mixture", "captions": ["speech and a flute"], "duration": 1.0,
        "sample_rate": 16_000, "path": _wav(root, "x.wav", 1.0, 500), "sources": sources,
    })  # fmt: skip
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = root / "tokens"
    tokenize_manifest(debug_codec, manifest, out, with_sources=True, progress=False)
    return out


def tiny(tokens: Path, out: Path, *extra: str):
    return load_lm_train_config(TINY, [f"data.tokens={tokens}", f"run.out_dir={out}", *extra])


def test_examples_follow_the_task_specs(tokens):
    corpus = TokenCorpus(tokens)
    embed = lambda text: torch.full((384,), float(len(text)))  # noqa: E731
    rng = random.Random(0)
    tts = TaskExamples(builtin_task("tts"), corpus, TextFrontend(), embed)
    assert len(tts) == 4
    example = tts.draw(rng)
    assert example.target.shape[0] == 4 and example.target.shape[1] == 30  # whole utterance
    assert example.conditions["prompt_audio"].shape[0] == 4
    lass = TaskExamples(builtin_task("lass"), corpus, TextFrontend(), embed)
    assert len(lass) == 2  # one example per source
    example = lass.draw(rng)
    assert example.conditions["audio"].shape == example.target.shape  # aligned crops
    assert example.conditions["text"][0].item() in (len("speech"), len("a flute"))
    cont = TaskExamples(builtin_task("continuation"), corpus, TextFrontend(), embed)
    example = cont.draw(rng)
    prompt = example.conditions["audio"]
    whole = next(
        corpus.codes(i)
        for i in range(len(corpus))
        if torch.equal(corpus.codes(i)[:, : prompt.shape[1]], prompt)
    )
    target = example.target
    assert torch.equal(whole[:, prompt.shape[1] : prompt.shape[1] + target.shape[1]], target)


def test_train_lm_all_tasks_and_resume(tokens, tmp_path):
    export = train_lm(tiny(tokens, tmp_path / "run"))
    model = load_lm(export)
    assert model.config.tasks == ["tts", "tta", "lass", "continuation"]
    assert (tmp_path / "run" / "caption_embeddings.safetensors").is_file()
    straight = train_lm(tiny(tokens, tmp_path / "a", "run.max_steps=4", "run.save_every=2"))
    train_lm(tiny(tokens, tmp_path / "b", "run.max_steps=2", "run.save_every=2"))
    resumed = train_lm(tiny(tokens, tmp_path / "b", "run.max_steps=4", "run.save_every=2"))
    a, b = load_lm(straight).state_dict(), load_lm(resumed).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_lm_on_flites_phones_trains_and_speaks(tokens, tmp_path):
    import tokgen
    from tokgen.text import PhoneFrontend

    export = train_lm(tiny(tokens, tmp_path / "run", "model.text_frontend=phones"))
    model = tokgen.load(export)
    assert model.config.text_frontend == "phones" and isinstance(model.frontend, PhoneFrontend)
    assert model.config.text_vocab == PhoneFrontend().vocab_size
    embed = lambda text: torch.zeros(384)  # noqa: E731
    examples = TaskExamples(builtin_task("tts"), TokenCorpus(tokens), model.frontend, embed)
    rng = random.Random(0)
    drawn = [examples.draw(rng).conditions["text"] for _ in range(8)]  # some dropped (CFG)
    spoken = [model.frontend.encode(s) for s in SENTENCES]  # phones, not letters
    assert all(list(text) in spoken for text in drawn if text is not None)
    assert any(text is not None for text in drawn)
    out = model.generate("tts", "The cat sat.", prompt_audio=(tone(0.6), 16_000), duration=0.4)
    assert out.codes.shape[:2] == (1, 4)
    with pytest.raises(ConfigError, match="text_frontend"):
        train_lm(tiny(tokens, tmp_path / "bad", "model.text_frontend=letters"))


@pytest.mark.parametrize("lora", [0, 4])
def test_fine_tune_on_a_yaml_task(tokens, tmp_path, lora):
    base = train_lm(tiny(tokens, tmp_path / "base"))
    config = tiny(
        tokens,
        tmp_path / "tuned",
        "data.tasks={enhance: 1.0}",
        f"data.task_files=[{REPO / 'lm' / 'tasks' / 'enhance.yaml'}]",
        f"lora.rank={lora}",
    )
    config.init_from = str(base)
    tuned = load_lm(train_lm(config))
    assert tuned.config.tasks == ["tts", "tta", "lass", "continuation", "enhance"]
    before = load_lm(base).state_dict()
    after = tuned.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    if lora:  # LoRA touches the attention projections only
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        assert changed and all(".attn." in k for k in changed)


def test_lm_config_errors(tokens, tmp_path):
    with pytest.raises(ConfigError, match="unknown section"):
        load_lm_train_config(TINY, ["nope.x=1"])
    with pytest.raises(ConfigError, match="holds 'tokgen-codec-debug'"):
        train_lm(tiny(tokens, tmp_path / "r", "model.codec=tokgen-codec-16k"))
    with pytest.raises(ConfigError, match="codebooks"):
        train_lm(tiny(tokens, tmp_path / "r", "model.num_codebooks=8"))
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nconditions:\n  - {name: a, type: audio, field: nothing_here}\n")
    with pytest.raises(ConfigError, match="no row"):
        train_lm(tiny(tokens, tmp_path / "r", "data.tasks={bad: 1.0}", f"data.task_files=[{path}]"))


@pytest.mark.parametrize("recipe", ["finetune_tts.yaml", "finetune_tta.yaml"])
def test_fine_tune_recipes_load_and_train_two_steps(tokens, tmp_path, recipe):
    """The shipped fine-tuning recipes, started from a model name (the debug one here)."""
    overrides = [f"data.tokens={tokens}", f"run.out_dir={tmp_path / 'r'}", "run.max_steps=2"]
    overrides.append("data.batch_size=2")  # the tiny corpus has 4 clips per task
    config = load_lm_train_config(REPO / "lm" / recipe, [*overrides, "init_from=tokgen-lm-debug"])
    assert config.lora.rank == (0 if "tts" in recipe else 8) and config.optim.lr <= 1e-4
    exported = train_lm(config)
    model = load_lm(exported)
    assert ("tts" if "tts" in recipe else "tta") in model.config.tasks
    assert load_lm_train_config(REPO / "lm" / recipe).init_from == "tokgen-small"


def test_a_yaml_task_with_new_condition_names_trains_and_generates(tokens, tmp_path, capsys):
    """A task whose conditions have names ``generate()`` never heard of (``words``,
    ``style``): trained from YAML, then run from Python and the command line, no code change."""
    from tokgen.cli import main

    path = tmp_path / "say.yaml"
    path.write_text(
        "name: say\ndescription: words in the style of a reference clip\nkinds: [speech]\n"
        "conditions:\n"
        "  - {name: words, type: text, field: transcript, help: what to say}\n"
        "  - {name: style, type: audio, field: path, window: random, seconds: 0.4}\n"
        "target: {field: path, length: eos, seconds: 1.0}\n"
    )
    export = train_lm(
        tiny(tokens, tmp_path / "run", "data.tasks={say: 1.0}", f"data.task_files=[{path}]")
    )
    import tokgen

    model = tokgen.load(export)
    reference = (tone(0.6), 16_000)
    out = model.generate("say", words="The cat sat.", style=reference, duration=0.4, seed=0)
    assert out.codes.shape[:2] == (1, 4)
    with pytest.raises(InvalidInputError, match=r"it takes \['words', 'style'\]"):
        model.generate("say", text="The cat sat.", style=reference)
    sf.write(tmp_path / "ref.wav", tone(0.6).T.numpy(), 16_000)
    wav = tmp_path / "said.wav"
    argv = ["generate", "say", "--words", "The cat sat.", "--style", str(tmp_path / "ref.wav")]
    argv += ["--model", str(export), "--duration", "0.4", "--seed", "0", "-o", str(wav)]
    assert main(argv) == 0 and wav.is_file()
    with pytest.raises(SystemExit):
        main(["generate", "say", "--help", "--model", str(export)])
    assert re.search(r"--words WORDS\s+what to say", capsys.readouterr().out)


def test_the_accelerator_script_tiny_mode_trains_two_steps_and_exports(tokens, tmp_path):
    import subprocess

    out = tmp_path / "out"
    script = REPO / "scripts" / "train_on_accelerator.sh"
    subprocess.run([str(script), "--tiny", str(tokens), str(out)], check=True, timeout=300)
    assert "trained in" in (out / "train.log").read_text()
    parts = sorted((out / "model").glob("model.safetensors.part-*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    joined = tmp_path / "joined"
    joined.mkdir()
    (joined / "config.json").write_bytes((out / "model" / "config.json").read_bytes())
    (joined / "model.safetensors").write_bytes(b"".join(p.read_bytes() for p in parts))
    trained = load_lm(out / "run" / "model").state_dict()
    shipped = load_lm(joined).state_dict()
    assert all(torch.allclose(trained[k], shipped[k], atol=1e-2, rtol=1e-2) for k in trained)


def test_the_held_out_loss_scores_the_same_examples_each_time(tokens, tmp_path):
    import json

    import tokgen
    from tokgen.cli import main
    from tokgen.eval.lm_loss import held_out_loss

    export = train_lm(tiny(tokens, tmp_path / "run"))
    model = tokgen.load(export)
    first = held_out_loss(model.lm, model.frontend, str(tokens), "tts", items=6, batch_size=4)
    again = held_out_loss(model.lm, model.frontend, str(tokens), "tts", items=6, batch_size=4)
    assert first == again and first.items == 6 and 0 <= first.ar_acc <= 1
    assert first.ar > 0 and first.nar > 0
    other = held_out_loss(model.lm, model.frontend, str(tokens), "tts", items=6, seed=1)
    assert other != first  # other crops and prompts
    with pytest.raises(ConfigError, match="no task 'sing'"):
        held_out_loss(model.lm, model.frontend, str(tokens), "sing")
    out = tmp_path / "loss.json"
    argv = ["eval", "loss", "--model", str(export), "--tokens", str(tokens), "--items", "6"]
    assert main([*argv, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["ar"] > 0
