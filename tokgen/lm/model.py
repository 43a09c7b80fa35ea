"""The AR + NAR codec language model (VALL-E style) over :mod:`tokgen.tasks` sequences.

The AR transformer predicts the first codebook of the target frame by frame (plus an
end-of-audio class); the NAR transformer then fills codebook ``k`` of every target frame
at once from codebooks ``< k``, for ``k = 1 .. K-1``. Both read the full condition prefix.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional

from tokgen.lm.config import LMConfig
from tokgen.lm.transformer import KVCache, Transformer
from tokgen.tasks import Kind, SequenceBatch, Special, TaskSpec, builtin_task


class SequenceEmbedding(nn.Module):
    """Positions of a :class:`SequenceBatch` -> ``[B, L, D]``.

    Condition frames embed all K codebooks (summed); target frames only their first
    ``target_codebooks`` (1 for the AR model, the stage for the NAR model).
    """

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        d = config.d_model
        self.num_codebooks = config.num_codebooks
        self.cardinality = config.cardinality
        self.special = nn.Embedding(config.sequence_format().special_ids, d)
        self.text = nn.Embedding(config.text_vocab, d)
        self.caption = nn.Linear(config.embedding_dim, d)
        self.audio = nn.Embedding(config.num_codebooks * config.cardinality, d)
        self.kind = nn.Embedding(len(Kind), d)
        self.position = nn.Embedding(config.max_positions, d)
        self.register_buffer(
            "offsets", torch.arange(config.num_codebooks) * config.cardinality, persistent=False
        )

    def forward(
        self,
        kinds: torch.Tensor,  # [B, L]
        ids: torch.Tensor,  # [B, L]
        codes: torch.Tensor,  # [B, L, K]
        embeddings: torch.Tensor,  # [B, L, E]
        positions: torch.Tensor,  # [B, L]
        target_codebooks: torch.Tensor,  # [B] codebooks embedded at target frames
    ) -> torch.Tensor:
        special = kinds == Kind.SPECIAL
        text = kinds == Kind.TEXT
        x = self.kind(kinds) + self.position(positions)
        x = x + self.special(torch.where(special, ids, 0)) * special[..., None]
        x = x + self.text(torch.where(text, ids, 0)) * text[..., None]
        x = x + self.caption(embeddings) * (kinds == Kind.EMBEDDING)[..., None]
        codebook = torch.arange(self.num_codebooks, device=codes.device)  # [K]
        used = (codes >= 0) & (
            (kinds == Kind.AUDIO)[..., None]
            | ((kinds == Kind.TARGET)[..., None] & (codebook < target_codebooks[:, None, None]))
        )  # [B, L, K]
        frames = self.audio(codes.clamp_min(0) + self.offsets)  # [B, L, K, D]
        return x + (frames * used[..., None]).sum(dim=2)


class CodecLM(nn.Module):
    """AR (first codebook + EOS) and NAR (codebooks 1..K-1) transformers.

    ``task_specs`` holds the definition of each task in ``config.tasks`` (the built-ins by
    default); it is the model's own, saved with it, so two models never redefine each
    other's tasks.
    """

    def __init__(self, config: LMConfig, task_specs: dict[str, TaskSpec] | None = None) -> None:
        super().__init__()
        self.config = config
        self.task_specs = dict(task_specs or {})
        for name in config.tasks:
            if name not in self.task_specs:
                self.task_specs[name] = builtin_task(name)
        c = config
        self.ar_inputs = SequenceEmbedding(c)
        self.ar = Transformer(c.d_model, c.n_heads, c.ar_layers, c.ff_mult, c.dropout, causal=True)
        self.ar_head = nn.Linear(c.d_model, c.cardinality + 1)  # index V is end-of-audio
        self.nar_inputs = SequenceEmbedding(c)
        self.stage = nn.Embedding(c.num_codebooks, c.d_model)
        self.nar = Transformer(
            c.d_model, c.n_heads, c.nar_layers, c.ff_mult, c.dropout, causal=False
        )
        self.nar_heads = nn.Parameter(torch.empty(c.num_codebooks - 1, c.cardinality, c.d_model))
        nn.init.normal_(self.nar_heads, std=c.d_model**-0.5)

    @property
    def eos(self) -> int:
        """The AR class that ends the target."""
        return self.config.cardinality

    # ---- AR ------------------------------------------------------------------------------
    def ar_logits(self, batch: SequenceBatch, cache: KVCache | None = None) -> torch.Tensor:
        """``[B, L, V+1]`` next-frame logits at every position (appending to ``cache``)."""
        ones = torch.ones(batch.kinds.shape[0], dtype=torch.long, device=batch.kinds.device)
        x = self.ar_inputs(
            batch.kinds, batch.ids, batch.codes, batch.embeddings, batch.positions, ones
        )
        return self.ar_head(self.ar(x, batch.padding, cache))

    def ar_step(
        self,
        tokens: torch.Tensor,  # [B] first-codebook codes of the newest frame
        positions: torch.Tensor,  # [B] their positions
        cache: KVCache,
    ) -> torch.Tensor:
        """Append one target frame per item and return its ``[B, V+1]`` logits."""
        b, k = tokens.shape[0], self.config.num_codebooks
        codes = torch.full((b, 1, k), -1, dtype=torch.long, device=tokens.device)
        codes[:, 0, 0] = tokens.clamp(max=self.config.cardinality - 1)
        kinds = torch.full((b, 1), int(Kind.TARGET), device=tokens.device)
        x = self.ar_inputs(
            kinds,
            torch.zeros_like(kinds),
            codes,
            torch.zeros(b, 1, self.config.embedding_dim, device=tokens.device),
            positions[:, None],
            torch.ones(b, dtype=torch.long, device=tokens.device),
        )
        padding = torch.zeros(b, 1, dtype=torch.bool, device=tokens.device)
        return self.ar_head(self.ar(x, padding, cache))[:, -1]

    # ---- NAR -----------------------------------------------------------------------------
    def nar_logits(self, batch: SequenceBatch, stage: torch.Tensor) -> torch.Tensor:
        """``[B, L, V]`` logits of codebook ``stage[b]`` (1..K-1) at every position."""
        x = self.nar_inputs(
            batch.kinds, batch.ids, batch.codes, batch.embeddings, batch.positions, stage
        )
        x = x + self.stage(stage)[:, None, :]
        h = self.nar(x, batch.padding)  # [B, L, D]
        return torch.einsum("bld,bvd->blv", h, self.nar_heads[stage - 1])

    # ---- training ------------------------------------------------------------------------
    def forward(self, batch: SequenceBatch, stage: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training losses (so DDP and peft wrappers see one call); see :meth:`losses`."""
        return self.losses(batch, stage)

    def losses(self, batch: SequenceBatch, stage: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cross-entropy on the target only: AR on the first codebook and EOS, NAR on
        codebook ``stage[b]``. Returns ``ar``, ``nar`` and their accuracies."""
        logits = self.ar_logits(batch)[:, :-1]  # [B, L-1, V+1] predicts position i+1
        next_kinds, next_ids = batch.kinds[:, 1:], batch.ids[:, 1:]
        is_eos = (next_kinds == Kind.SPECIAL) & (next_ids == Special.EOS)
        ar_mask = (next_kinds == Kind.TARGET) | is_eos
        ar_labels = torch.where(is_eos, self.eos, batch.codes[:, 1:, 0].clamp_min(0))
        ar_loss, ar_acc = _masked_cross_entropy(logits, ar_labels, ar_mask)

        nar = self.nar_logits(batch, stage)  # [B, L, V]
        nar_labels = batch.codes.gather(2, stage[:, None, None].expand(-1, nar.shape[1], 1))
        nar_loss, nar_acc = _masked_cross_entropy(
            nar, nar_labels[..., 0].clamp_min(0), batch.target_mask()
        )
        return {"ar": ar_loss, "nar": nar_loss, "ar_acc": ar_acc, "nar_acc": nar_acc}


def _masked_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy over ``mask`` (``logits [B, L, C]``, ``labels [B, L]``)."""
    flat = rearrange(logits, "b l c -> (b l) c")[mask.flatten()]
    target = labels.flatten()[mask.flatten()]
    if target.numel() == 0:
        zero = logits.sum() * 0
        return zero, zero.detach()
    loss = functional.cross_entropy(flat.float(), target)
    accuracy = (flat.argmax(-1) == target).float().mean().detach()
    return loss, accuracy
