"""``tokgen train lm``: the AR + NAR LM on a token corpus with a multi-task mix.

Each item draws its task by the recipe's ratios and an example of it (random crops,
condition dropout) from a seed the trainer derives from ``(seed, step)``, so resumes are
exact. Captions and queries are embedded once up front (MiniLM) and cached in the run.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset

from tokgen.codecs import load_codec
from tokgen.data.token_corpus import TokenCorpus
from tokgen.errors import ConfigError
from tokgen.lm.checkpoint import load_lm, save_lm
from tokgen.lm.config import LMConfig
from tokgen.lm.model import CodecLM
from tokgen.tasks import Sequence, TaskSpec, build_sequence, builtin_task, collate, load_task
from tokgen.text import caption_encoder, make_frontend
from tokgen.training.config import LMTrainConfig
from tokgen.training.examples import TaskExamples
from tokgen.training.trainer import MODEL_DIR, Trainer, Updater

EMBEDDINGS_NAME = "caption_embeddings.safetensors"


class MultiTaskDataset(Dataset):
    """Items keyed ``(index, seed)``: a task drawn by ratio, then one of its examples."""

    def __init__(self, sources: list[TaskExamples], ratios: list[float], model: LMConfig) -> None:
        self.sources = sources
        self.weights = ratios
        self.model = model
        self.task_index = {name: i for i, name in enumerate(model.tasks)}

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def __getitem__(self, key: tuple[int, int]) -> Sequence:
        _, seed = key
        rng = random.Random(seed)
        source = rng.choices(self.sources, weights=self.weights)[0]
        example = source.draw(rng)
        return build_sequence(
            source.task,
            self.task_index[source.task.name],
            example.conditions,
            example.target,
            self.model.sequence_format(),
        )


class CaptionTable:
    """Every caption/query string of the training tasks -> its ``[E]`` MiniLM embedding."""

    def __init__(self, strings: set[str], cache: Path) -> None:
        ordered = sorted(strings)
        known: dict[str, torch.Tensor] = {}
        if cache.is_file():
            names = json.loads(cache.with_suffix(".json").read_text())
            known = dict(zip(names, load_file(str(cache))["embeddings"]))
        missing = [s for s in ordered if s not in known]
        if missing:
            known.update(zip(missing, caption_encoder().encode(missing)))
            cache.parent.mkdir(parents=True, exist_ok=True)
            names = sorted(known)
            save_file({"embeddings": torch.stack([known[n] for n in names])}, str(cache))
            cache.with_suffix(".json").write_text(json.dumps(names))
        self.vectors = known

    def __call__(self, text: str) -> torch.Tensor:
        return self.vectors[text]


class LMTask:
    """One LM step: AR + NAR cross-entropy, a random NAR stage per item."""

    def __init__(self, model: CodecLM) -> None:
        self.model = model

    def train_step(self, batch: Any, step: int, update: Updater) -> dict[str, float]:
        model = update.modules["lm"]
        k = self.model.config.num_codebooks
        stage = torch.randint(1, k, (batch.kinds.shape[0],), device=batch.kinds.device)
        losses = model(batch, stage)
        loss = losses["ar"] + losses["nar"]
        update("lm", loss)
        return {name: value.item() for name, value in losses.items()} | {"loss": loss.item()}


def build_model(config: LMTrainConfig, text_vocab: int, frame_rate: float) -> CodecLM:
    """A fresh model from ``config.model``, or the ``init_from`` one (with new tasks added).

    The recipe's ``task_files`` define tasks by name (a file may redefine a built-in one);
    the model keeps each spec it trains on.
    """
    declared: dict[str, TaskSpec] = {}
    for path in config.data.task_files:
        spec = load_task(path)
        declared[spec.name] = spec
    if config.init_from is None:
        lm_config = config.lm_config(text_vocab=text_vocab, frame_rate=frame_rate)
        return CodecLM(lm_config, {n: s for n, s in declared.items() if n in lm_config.tasks})
    model = _load_init(config.init_from)
    new = [t for t in config.data.tasks if t not in model.config.tasks]
    if len(model.config.tasks) + len(new) > model.config.max_tasks:
        raise ConfigError(f"{config.init_from} has room for {model.config.max_tasks} tasks.")
    model.config = dataclasses.replace(model.config, tasks=[*model.config.tasks, *new])
    model.task_specs.update(declared)
    for name in new:
        if name not in model.task_specs:
            model.task_specs[name] = builtin_task(name)
    return model


def _load_init(name_or_path: str) -> CodecLM:
    """The LM to start from: a directory, a shipped model's name or ``tokgen-lm-debug``."""
    if Path(name_or_path).is_dir():
        return load_lm(name_or_path)
    from tokgen.pipeline import load  # resolves shipped names and the debug model

    return load(name_or_path).lm


def train_lm(config: LMTrainConfig) -> Path:
    """Train (or resume) the LM; returns the exported ``out_dir/model`` directory."""
    torch.manual_seed(config.run.seed)
    corpus = TokenCorpus(config.data.tokens)
    model = build_model(config, config.text_vocab(), corpus.header.frame_rate)
    frontend = make_frontend(model.config.text_frontend, model.config.max_text_tokens)
    if not 2 <= model.config.num_codebooks <= corpus.header.num_codebooks:
        raise ConfigError(
            f"the model wants {model.config.num_codebooks} codebooks; it needs 2 or more "
            f"and {config.data.tokens} has {corpus.header.num_codebooks}."
        )
    if model.config.codec != corpus.header.codec:
        raise ConfigError(
            f"the model speaks {model.config.codec!r} tokens; {config.data.tokens} holds "
            f"{corpus.header.codec!r} tokens."
        )
    corpus.check_codec(load_codec(model.config.codec))  # stale tokens would train in vain
    out_dir = Path(config.run.out_dir)
    unknown = sorted(set(config.data.tasks) - set(model.config.tasks))
    if unknown:
        raise ConfigError(
            f"data.tasks names {unknown}, which the model does not have ({model.config.tasks}); "
            "add them to model.tasks or drop them from data.tasks."
        )
    specs = model.task_specs
    sources = [TaskExamples(specs[name], corpus, frontend) for name in config.data.tasks]
    captions = CaptionTable(set().union(*(s.strings() for s in sources)), out_dir / EMBEDDINGS_NAME)
    for source in sources:
        source.embed = captions  # picklable, so data-loader workers can be spawned too
    dataset = MultiTaskDataset(sources, list(config.data.tasks.values()), model.config)
    trainable = _apply_lora(model, config) if config.lora.rank > 0 else model
    task = LMTask(model)
    trainer = Trainer(
        config.run,
        config.optim,
        {"lm": trainable},
        dataset,
        batch_size=config.data.batch_size,
        num_workers=config.data.num_workers,
        config=asdict(config),
        collate_fn=collate,
    )
    export = out_dir / MODEL_DIR
    trainer.fit(task.train_step, on_save=lambda t: _export(t.unwrap("lm"), export))
    return export


def _apply_lora(model: CodecLM, config: LMTrainConfig) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora.rank, lora_alpha=config.lora.alpha, target_modules=config.lora.targets
    )
    return get_peft_model(model, lora)


def _export(module: torch.nn.Module, path: Path) -> None:
    """Save the plain model (LoRA adapters merged into a copy)."""
    if hasattr(module, "merge_and_unload"):
        import copy

        module = copy.deepcopy(module).merge_and_unload()
    save_lm(module, path)
