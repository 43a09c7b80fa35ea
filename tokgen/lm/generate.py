"""The generation loop: AR first codebook (KV cache, CFG, EOS or fixed length), then the
NAR codebooks. Works on :class:`~tokgen.tasks.Sequence` prefixes; see
:mod:`tokgen.pipeline` for text and audio in, audio out."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from tokgen.lm.model import CodecLM
from tokgen.lm.sampling import SamplingParams, guide, sample
from tokgen.lm.transformer import KVCache
from tokgen.tasks import Kind, Sequence, SequenceBatch, collate
from tokgen.threads import one_thread

DEFAULT_SAMPLING = SamplingParams()
GREEDY = SamplingParams(temperature=0.0)
LOOP_FRAMES = 25  # one first-codebook token this many frames in a row (0.5 s) is a loop
ONE_THREAD_UP_TO = 2  # the LM of batches this small runs on one CPU thread


@dataclass(frozen=True)
class Budget:
    """How long one item's target is: exactly ``frames``, or up to it when ``stop_at_eos``."""

    frames: int
    stop_at_eos: bool = False
    min_frames: int = 1


@torch.inference_mode()
def generate_codes(
    model: CodecLM,
    prefixes: list[Sequence],
    budgets: list[Budget],
    generators: list[torch.Generator],
    *,
    unconditional: list[Sequence] | None = None,
    cfg_scale: float = 1.0,
    params: SamplingParams = DEFAULT_SAMPLING,
    nar_params: SamplingParams = GREEDY,
    use_cache: bool = True,
    progress: bool = False,
) -> list[torch.Tensor]:
    """Codes ``[K, F_i]`` for each prefix (each ends at SEP).

    With ``unconditional`` prefixes (the same items with their droppable conditions left
    out), logits are guided by ``cfg_scale``; scale 1 is the conditional model exactly.
    """
    # a small batch's matrix products gain nothing from a second thread (tokgen-small, batch
    # 1, LM alone: 2.18x vs 2.16x real time on 2 cores), and when another process holds a
    # core two threads wait on each other (0.64x vs 2.34x)
    cpu = model.ar_head.weight.device.type == "cpu"
    with one_thread(cpu and len(prefixes) <= ONE_THREAD_UP_TO):
        first = _generate_first_codebook(
            model, prefixes, budgets, generators, unconditional, cfg_scale, params, use_cache,
            progress,
        )  # fmt: skip
        return _fill_codebooks(
            model, prefixes, first, generators, unconditional, cfg_scale, nar_params
        )


def _generate_first_codebook(
    model: CodecLM,
    prefixes: list[Sequence],
    budgets: list[Budget],
    generators: list[torch.Generator],
    unconditional: list[Sequence] | None,
    cfg_scale: float,
    params: SamplingParams,
    use_cache: bool,
    progress: bool,
) -> list[torch.Tensor]:
    """AR loop -> first-codebook codes ``[F_i]`` per item."""
    n = len(prefixes)
    guided = unconditional is not None
    device = model.ar_head.weight.device
    batch = collate(prefixes + (unconditional or []), pad_left=True).to(device)
    steps = max(b.frames for b in budgets)
    cache = KVCache(capacity=batch.kinds.shape[1] + steps + 1) if use_cache else None
    logits = model.ar_logits(batch, cache)[:, -1]  # [N or 2N, V+1]
    next_position = batch.positions[:, -1] + 1
    tokens_so_far = torch.zeros(n, steps, dtype=torch.long)
    lengths = torch.full((n,), -1)
    eos = model.eos
    bar = tqdm(total=steps, desc="generate", unit="frame", disable=not progress, leave=False)
    for t in range(steps):
        bar.update()
        scores = guide(logits, cfg_scale) if guided else logits.float()  # [N, V+1]
        for i, budget in enumerate(budgets):
            if not budget.stop_at_eos or t < budget.min_frames:
                scores[i, eos] = float("-inf")
        scores = scores.cpu()  # [N, V+1]: drawn on the CPU generators
        tokens = sample(scores, params, generators)  # [N]
        tokens = _break_loops(tokens, scores, tokens_so_far[:, :t], generators)
        tokens_so_far[:, t] = tokens
        for i, budget in enumerate(budgets):
            ended = tokens[i] == eos or t + 1 >= budget.frames
            if lengths[i] < 0 and ended:
                lengths[i] = t if tokens[i] == eos else t + 1
        if (lengths >= 0).all():
            bar.total = bar.n  # ended early (end token): the bar ends full, not at 160/500
            bar.refresh()
            break
        step_tokens = (torch.cat([tokens, tokens]) if guided else tokens).to(device)
        if cache is not None:
            logits = model.ar_step(step_tokens, next_position, cache)
        else:
            batch = _append_frame(batch, step_tokens, next_position)
            logits = model.ar_logits(batch)[:, -1]
        next_position = next_position + 1
    bar.close()
    return [tokens_so_far[i, : lengths[i]] for i in range(n)]


def _break_loops(
    tokens: torch.Tensor,
    scores: torch.Tensor,
    history: torch.Tensor,
    generators: list[torch.Generator],
) -> torch.Tensor:
    """Repetition-aware sampling (VALL-E 2), for loops: where ``tokens [N]`` would repeat
    the last :data:`LOOP_FRAMES` tokens of ``history [N, t]``, draw that item's token again
    from the model's unfiltered distribution (``scores [N, V+1]`` at temperature 1). Greedy
    decoding otherwise locks into one token (silence) until the frame budget runs out; a
    confident model still redraws the same token."""
    if history.shape[1] < LOOP_FRAMES:
        return tokens
    looped = (history[:, -LOOP_FRAMES:] == tokens[:, None]).all(dim=1)
    tokens = tokens.clone()
    for i in looped.nonzero().flatten().tolist():
        probs = scores[i].float().softmax(-1)  # end-of-audio stays at 0 where it is masked
        tokens[i] = torch.multinomial(probs, 1, generator=generators[i])[0]
    return tokens


def _append_frame(
    batch: SequenceBatch, tokens: torch.Tensor, positions: torch.Tensor
) -> SequenceBatch:
    """The batch with one more target frame (first codebook ``tokens``) per row."""
    b, _, k = batch.codes.shape
    codes = batch.codes.new_full((b, 1, k), -1)
    codes[:, 0, 0] = tokens
    return dataclasses.replace(
        batch,
        kinds=torch.cat([batch.kinds, batch.kinds.new_full((b, 1), int(Kind.TARGET))], dim=1),
        ids=torch.cat([batch.ids, batch.ids.new_zeros(b, 1)], dim=1),
        codes=torch.cat([batch.codes, codes], dim=1),
        embeddings=torch.cat(
            [batch.embeddings, batch.embeddings.new_zeros(b, 1, batch.embeddings.shape[2])], dim=1
        ),
        positions=torch.cat([batch.positions, positions[:, None]], dim=1),
    )


def _with_target(prefix: Sequence, first: torch.Tensor, num_codebooks: int) -> Sequence:
    """``prefix`` followed by target frames whose first codebook is ``first [F]``."""
    frames = torch.full((first.shape[0], num_codebooks), -1, dtype=torch.long)
    frames[:, 0] = first
    return dataclasses.replace(
        prefix,
        kinds=torch.cat([prefix.kinds, torch.full((first.shape[0],), int(Kind.TARGET))]),
        ids=torch.cat([prefix.ids, torch.zeros(first.shape[0], dtype=torch.long)]),
        codes=torch.cat([prefix.codes, frames]),
        target_frames=int(first.shape[0]),
    )


def _fill_codebooks(
    model: CodecLM,
    prefixes: list[Sequence],
    first: list[torch.Tensor],
    generators: list[torch.Generator],
    unconditional: list[Sequence] | None,
    cfg_scale: float,
    params: SamplingParams,
) -> list[torch.Tensor]:
    """NAR stages 1..K-1 over the AR output -> ``[K, F_i]`` per item."""
    k = model.config.num_codebooks
    n = len(prefixes)
    out = [torch.zeros(k, f.shape[0], dtype=torch.long) for f in first]
    for i, f in enumerate(first):
        out[i][0] = f
    todo = [i for i in range(n) if first[i].numel() > 0]
    if not todo or k == 1:
        return out
    rows = [_with_target(prefixes[i], first[i], k) for i in todo]
    if unconditional is not None:
        rows += [_with_target(unconditional[i], first[i], k) for i in todo]
    batch = collate(rows).to(model.stage.weight.device)
    mask = batch.target_mask()  # [R, L]
    for stage in range(1, k):
        stages = torch.full((len(rows),), stage, dtype=torch.long, device=batch.codes.device)
        logits = model.nar_logits(batch, stages)  # [R, L, V]
        if unconditional is not None:
            logits = guide(logits, cfg_scale)
            row_mask = mask[: len(todo)]
        else:
            row_mask = mask
        for j, i in enumerate(todo):
            picked = sample(
                logits[j][row_mask[j]].cpu(), params, [generators[i]] * int(row_mask[j].sum())
            )
            out[i][stage] = picked
            picked = picked.to(batch.codes.device)
            batch.codes[j, row_mask[j], stage] = picked
            if unconditional is not None:
                batch.codes[j + len(todo), mask[j + len(todo)], stage] = picked
    return out
