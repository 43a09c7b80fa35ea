"""Which token layout learns faster here: VALL-E's AR + NAR, or MusicGen's delay pattern?

A probe, not a shipped layout (it trains and scores; it does not generate). The delay
model is one causal transformer over the same sequences, whose target position ``t``
holds codebook ``k`` of frame ``t - k`` (the target grows by ``K - 1`` positions) and
predicts all ``K`` codebooks of the next position with ``K`` heads. Trained with the
AR + NAR recipe's data, batches, optimiser and seed (``lm/tts_front_end.yaml``), with as
many transformer layers as the AR and NAR together. Scored teacher-forced on the same
seeded held-out crops as ``tokgen eval loss``, per codebook: both factorize the
probability of every code of the target, so the sum over codebooks (nats per frame) is
comparable (the AR+NAR's NAR sees the lower codebooks of every frame, past and future;
the delay model only the past).

    python lm/probes/delay_pattern.py train --config lm/tts_front_end.yaml --out runs/lm-delay
    python lm/probes/delay_pattern.py score --delay runs/lm-delay --ar-nar runs/lm-characters/model \\
        --tokens data/tokens-speech/valid --items 200
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from tokgen.data.token_corpus import TokenCorpus
from tokgen.eval.lm_loss import held_out_batches
from tokgen.lm.checkpoint import load_lm
from tokgen.lm.config import LMConfig
from tokgen.lm.model import SequenceEmbedding
from tokgen.lm.transformer import Transformer
from tokgen.tasks import Kind, SequenceBatch, builtin_task, collate
from tokgen.text import make_frontend
from tokgen.training.config import load_lm_train_config
from tokgen.training.examples import TaskExamples
from tokgen.training.lm_training import MultiTaskDataset
from tokgen.training.trainer import Trainer


class DelayLM(nn.Module):
    """One causal transformer over delayed target codes, a head per codebook."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.inputs = SequenceEmbedding(c)
        self.body = Transformer(c.d_model, c.n_heads, c.ar_layers + c.nar_layers, c.ff_mult,
                                c.dropout, causal=True)  # fmt: skip
        self.heads = nn.Parameter(torch.empty(c.num_codebooks, c.cardinality, c.d_model))
        nn.init.normal_(self.heads, std=c.d_model**-0.5)

    def losses(self, batch: SequenceBatch) -> torch.Tensor:
        """Mean cross-entropy per codebook ``[K]`` over the delayed target (teacher-forced)."""
        b, k = batch.kinds.shape[0], self.config.num_codebooks
        every = torch.full((b,), k, dtype=torch.long)
        x = self.inputs(batch.kinds, batch.ids, batch.codes, batch.embeddings, batch.positions,
                        every)  # fmt: skip
        h = self.body(x, batch.padding)[:, :-1]  # [B, L-1, D] predicts position i+1
        logits = torch.einsum("bld,kvd->blkv", h, self.heads)  # [B, L-1, K, V]
        labels = batch.codes[:, 1:]  # [B, L-1, K]
        mask = (batch.kinds[:, 1:] == Kind.TARGET)[..., None] & (labels >= 0)
        ce = functional.cross_entropy(logits.flatten(0, 2).float(), labels.clamp_min(0).flatten(),
                                      reduction="none").view(labels.shape)  # fmt: skip
        return (ce * mask).sum((0, 1)) / mask.sum((0, 1)).clamp_min(1)


def delayed(batch: SequenceBatch, k: int) -> SequenceBatch:
    """``batch`` with each target's codebook ``j`` moved ``j`` positions later (the target
    ``K - 1`` positions longer; what followed it, the end token, dropped)."""
    size = int((batch.target_start + batch.target_frames).max()) + k - 1
    b = batch.kinds.shape[0]
    out = SequenceBatch(
        kinds=torch.full((b, size), int(Kind.PAD)),
        ids=torch.zeros(b, size, dtype=torch.long),
        codes=torch.full((b, size, k), -1, dtype=torch.long),
        embeddings=torch.zeros(b, size, batch.embeddings.shape[-1]),
        positions=torch.zeros(b, size, dtype=torch.long),
        target_start=batch.target_start.clone(),
        target_frames=batch.target_frames + k - 1,
    )
    for i in range(b):
        start, frames = int(batch.target_start[i]), int(batch.target_frames[i])
        end = start + frames + k - 1
        out.kinds[i, :start], out.kinds[i, start:end] = batch.kinds[i, :start], int(Kind.TARGET)
        out.ids[i, :start] = batch.ids[i, :start]
        out.embeddings[i, :start] = batch.embeddings[i, :start]
        out.codes[i, :start] = batch.codes[i, :start, :k]
        for j in range(k):
            out.codes[i, start + j : start + j + frames, j] = batch.codes[
                i, start : start + frames, j
            ]
        out.positions[i, :start] = batch.positions[i, :start]
        out.positions[i, start:end] = batch.positions[i, start] + torch.arange(end - start)
    return out


def train(config_path: str, out: str) -> None:
    config = load_lm_train_config(config_path, [f"run.out_dir={out}"])
    torch.manual_seed(config.run.seed)
    corpus = TokenCorpus(config.data.tokens)
    lm_config = config.lm_config(
        text_vocab=config.text_vocab(), frame_rate=corpus.header.frame_rate
    )
    lm_config = dataclasses.replace(lm_config, max_positions=lm_config.max_positions + 16)
    model = DelayLM(lm_config)
    frontend = make_frontend(lm_config.text_frontend, lm_config.max_text_tokens)
    sources = [TaskExamples(builtin_task(name), corpus, frontend) for name in config.data.tasks]
    dataset = MultiTaskDataset(sources, list(config.data.tasks.values()), lm_config)
    k = lm_config.num_codebooks

    def step(batch: SequenceBatch, _: int, update) -> dict[str, float]:
        per_codebook = update.modules["lm"].losses(delayed(batch, k))
        update("lm", per_codebook.mean())
        return {"loss": per_codebook.mean().item(), "cb0": per_codebook[0].item()}

    trainer = Trainer(config.run, config.optim, {"lm": model}, dataset,
                      batch_size=config.data.batch_size, num_workers=config.data.num_workers,
                      config=dataclasses.asdict(config), collate_fn=collate)  # fmt: skip

    def export(t: Trainer) -> None:
        path = Path(out) / "delay.pt"
        torch.save({"config": dataclasses.asdict(lm_config),
                    "state": t.unwrap("lm").state_dict()}, path)  # fmt: skip

    trainer.fit(step, on_save=export)


@torch.inference_mode()
def score(delay_dir: str, ar_nar: str, tokens: str, items: int, seed: int = 0) -> dict:
    """Per-codebook held-out cross-entropy (nats) of both models on the same crops."""
    saved = torch.load(Path(delay_dir) / "delay.pt", weights_only=False)
    delay = DelayLM(LMConfig(**saved["config"]))
    delay.load_state_dict(saved["state"])
    delay.eval()
    lm = load_lm(ar_nar).eval()
    k = lm.config.num_codebooks
    frontend = make_frontend(lm.config.text_frontend, lm.config.max_text_tokens)
    totals = {"delay": torch.zeros(k), "ar_nar": torch.zeros(k)}
    for batch in held_out_batches(lm, frontend, tokens, "tts", items, seed=seed):
        count = batch.kinds.shape[0]
        totals["delay"] += delay.losses(delayed(batch, k)) * count
        stages = [lm.losses(batch, torch.full((count,), s)) for s in range(1, k)]
        totals["ar_nar"] += torch.tensor([stages[0]["ar"], *[s["nar"] for s in stages]]) * count
    result = {name: (value / items).tolist() for name, value in totals.items()}
    result["sum"] = {name: sum(values) for name, values in result.items()}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--config", required=True)
    t.add_argument("--out", required=True)
    s = sub.add_parser("score")
    s.add_argument("--delay", required=True)
    s.add_argument("--ar-nar", required=True)
    s.add_argument("--tokens", required=True)
    s.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    if args.command == "train":
        train(args.config, args.out)
    else:
        print(json.dumps(score(args.delay, args.ar_nar, args.tokens, args.items), indent=1))
