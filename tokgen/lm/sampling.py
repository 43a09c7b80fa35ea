"""Token sampling: temperature, top-k, top-p, classifier-free guidance, per-item seeds."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tokgen.checks import integer, number
from tokgen.errors import InvalidInputError

MAX_SEED = 2**62  # seeds are 0..MAX_SEED; item i of a batch uses seed + i
MAX_TEMPERATURE = 100.0
GREEDY_BELOW = 1e-3  # temperatures under this sample greedily (dividing by them overflows)
MAX_CFG_SCALE = 100.0  # guidance beyond this only overflows the log-probabilities


@dataclass(frozen=True)
class SamplingParams:
    """``temperature`` 0 (or under 0.001) is greedy, at most 100; ``top_k`` 0 and ``top_p`` 1
    disable those filters."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:  # numpy / torch numbers become plain ones
        temperature = number("temperature", self.temperature, low=0, high=MAX_TEMPERATURE)
        object.__setattr__(self, "temperature", temperature)
        object.__setattr__(self, "top_k", integer("top_k", self.top_k, low=0))
        top_p = number("top_p", self.top_p, low=0, high=1)
        if top_p == 0:
            raise InvalidInputError("top_p must be in (0, 1], got 0; 1 disables the filter.")
        object.__setattr__(self, "top_p", top_p)


def guide(logits: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance over a batch stacked as ``[conditional; unconditional]``.

    ``[2B, ..., C] -> [B, ..., C]``: ``u + scale * (c - u)`` on log-probabilities, so
    ``scale = 1`` returns the conditional distribution exactly.
    """
    cond, uncond = logits.float().log_softmax(-1).chunk(2)
    if scale == 1.0:
        return cond
    return uncond + scale * (cond - uncond)


def filter_logits(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """``[N, C]`` logits with everything outside top-k / the top-p nucleus set to -inf."""
    logits = logits.float()
    if params.top_k > 0 and params.top_k < logits.shape[-1]:
        kth = logits.topk(params.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= params.top_p  # keeps the first token
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sample(
    logits: torch.Tensor, params: SamplingParams, generators: list[torch.Generator]
) -> torch.Tensor:
    """One token per row of ``logits [N, C]``; row ``n`` draws from ``generators[n]``."""
    if params.temperature < GREEDY_BELOW:
        return logits.argmax(-1)
    probs = filter_logits(logits / params.temperature, params).softmax(-1)
    return torch.stack([torch.multinomial(p, 1, generator=g)[0] for p, g in zip(probs, generators)])


def generators_for(seed: int | list[int] | None, batch: int) -> list[torch.Generator]:
    """Per-item generators: ``seed`` for item 0, ``seed + i`` for item i (or a list).

    Seeds are integers in ``0..MAX_SEED`` (Python, numpy or 0-d torch); none draws one.
    """
    if seed is None:
        first = int(torch.randint(0, MAX_SEED, ()))
        seeds = [first + i for i in range(batch)]
    elif isinstance(seed, (list, tuple)):
        seeds = [integer("seed", s, low=0, high=MAX_SEED + batch) for s in seed]
        if len(seeds) != batch:
            raise InvalidInputError(f"got {len(seeds)} seeds for {batch} items; pass one per item.")
    else:
        first = integer("seed", seed, low=0, high=MAX_SEED)
        seeds = [first + i for i in range(batch)]
    return [torch.Generator().manual_seed(s) for s in seeds]
