"""``tokgen eval loss``: an LM's teacher-forced loss on a held-out token corpus.

What sampling cannot yet show (an early LM babbles whatever it learned) the held-out loss
still orders: the AR cross-entropy on the first codebook (and the end token) and the NAR
cross-entropy on each finer codebook, with every condition kept (no dropout), on examples
drawn with a fixed seed, so two models are scored on the very same crops.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from tokgen.data.token_corpus import TokenCorpus
from tokgen.errors import ConfigError
from tokgen.lm.model import CodecLM
from tokgen.tasks import SequenceBatch, build_sequence, collate
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


def held_out_batches(
    lm: CodecLM,
    frontend: TextFrontend,
    tokens: str,
    task: str = "tts",
    items: int = 200,
    batch_size: int = 8,
    seed: int = 0,
    embed: Callable[[str], torch.Tensor] | None = None,
) -> Iterator[SequenceBatch]:
    """``items`` examples of ``task`` drawn (seeded) from the token corpus ``tokens`` with
    every condition kept, laid out for ``lm`` in batches of ``batch_size`` (the last may be
    smaller): the same crops for every model; ``embed`` maps caption strings to ``[E]``."""
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
    for start in range(0, items, batch_size):
        drawn = [examples.draw(rng) for _ in range(min(batch_size, items - start))]
        yield collate([build_sequence(spec, index, e.conditions, e.target[:k],
                                      lm.config.sequence_format()) for e in drawn])  # fmt: skip


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
    """``lm``'s losses on the :func:`held_out_batches` of ``task``; the NAR stage cycles
    through the codebooks 1..K-1 from one example to the next."""
    k = lm.config.num_codebooks
    totals = dict.fromkeys(("ar", "nar", "ar_acc", "nar_acc"), 0.0)
    lm.eval()
    batches = held_out_batches(lm, frontend, tokens, task, items, batch_size, seed, embed)
    start = 0
    for batch in tqdm(batches, total=-(-items // batch_size), desc=f"loss {task}", unit="batch"):
        count = batch.kinds.shape[0]
        stage = torch.tensor([1 + (start + i) % (k - 1) for i in range(count)])
        for name, value in lm.losses(batch, stage).items():
            totals[name] += value.item() * count
        start += count
    return HeldOutLoss(task, items, **{name: value / items for name, value in totals.items()})
