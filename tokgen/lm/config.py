"""The language model's typed config (``config.json`` of an LM checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokgen.tasks import SequenceFormat


@dataclass
class LMConfig:
    """Sizes of the AR + NAR codec language model and what it was trained with.

    ``tasks`` fixes the task-token order (append to add a task when fine-tuning; up to
    ``max_tasks``). ``codec`` names the codec whose tokens it speaks.
    """

    codec: str = "tokgen-codec-16k"
    num_codebooks: int = 8  # K
    cardinality: int = 1024  # codes per codebook (V)
    text_vocab: int = 64
    max_text_tokens: int = 256
    text_frontend: str = "characters"  # or "phones" (flite's; tokgen.text.FRONTENDS)
    embedding_dim: int = 384  # caption embeddings (MiniLM)
    tasks: list[str] = field(default_factory=lambda: ["tts", "tta", "lass", "continuation"])
    max_tasks: int = 16
    extra_markers: int = 4  # marker ids kept for condition types added later (0 before v2)
    d_model: int = 256
    n_heads: int = 4
    ar_layers: int = 6
    nar_layers: int = 6
    ff_mult: int = 4
    dropout: float = 0.1
    max_positions: int = 1024
    frame_rate: float = 50.0
    sample_rate: int = 16_000
    max_duration: float = 10.0  # the longest target generate() allows, in seconds

    def sequence_format(self) -> SequenceFormat:
        """The sizes this model's sequences are laid out for."""
        return SequenceFormat(
            self.num_codebooks, self.embedding_dim, self.max_tasks, self.extra_markers
        )
