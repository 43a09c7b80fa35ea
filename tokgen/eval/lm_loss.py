"""``tokgen eval loss``: an LM's teacher-forced loss on a held-out token corpus.

What sampling cannot yet show (an early LM babbles whatever it learned) the held-out loss
still orders: the AR cross-entropy on the first codebook (and the end token) and the NAR
cross-entropy on each finer codebook, with every condition kept (no dropout), on examples
drawn with a fixed seed, so two models are scored on the very same crops.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from tokgen.data.token_corpus import TokenCorpus
from tokgen.errors import ConfigError
from tokgen.lm.model import CodecLM
from tokgen.tasks import build_sequence, collate
from tokgen.text import TextFrontend
from tokgen.training.examples import TaskExamples


@dataclass
class HeldOutLoss:
    """Mean teacher-forced losses (nats) and accuracies over ``items`` examples of ``task``."""

    task: str
    items: int
    ar: float
    nar: float  # over the codebooks 1..K-1, each equally often
    ar_acc: float
    nar_acc: float

    def to_dict(self) -> dict[str, float | int | str]:
        return dataclasses.asdict(self)


@torch.inference_mode()
def held_out_loss(
    lm: CodecLM,
    frontend: TextFrontend,
    tokens: str,
    task: str = "tts",
    items: int = 200,
    batch_size: int = 8,
    seed: int = 0,
    embed: Callable[[str], torch.Tensor] | None = None,
) -> HeldOutLoss:
    """``lm``'s losses on ``items`` examples of ``task`` drawn (seeded) from the token corpus
    ``tokens``; ``embed`` maps caption strings to ``[E]`` for embedding conditions."""
    if task not in lm.task_specs:
        raise ConfigError(f"the model has no task {task!r}; it has {sorted(lm.task_specs)}.")
    spec = lm.task_specs[task]
    spec = dataclasses.replace(
        spec, conditions=tuple(dataclasses.replace(c, dropout=0.0) for c in spec.conditions)
    )
    examples = TaskExamples(spec, TokenCorpus(tokens), frontend, embed)
    rng = random.Random(seed)
    k = lm.config.num_codebooks
    index = lm.config.tasks.index(task)
    totals = dict.fromkeys(("ar", "nar", "ar_acc", "nar_acc"), 0.0)
    lm.eval()
    for start in tqdm(range(0, items, batch_size), desc=f"loss {task}", unit="batch"):
        count = min(batch_size, items - start)
        drawn = [examples.draw(rng) for _ in range(count)]
        batch = collate([build_sequence(spec, index, e.conditions, e.target[:k],
                                        lm.config.sequence_format()) for e in drawn])  # fmt: skip
        stage = torch.tensor([1 + (start + i) % (k - 1) for i in range(count)])
        for name, value in lm.losses(batch, stage).items():
            totals[name] += value.item() * count
    return HeldOutLoss(task, items, **{name: value / items for name, value in totals.items()})
