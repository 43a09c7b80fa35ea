"""The latent diffusion decoder's configuration (``transformer/config.json`` in a checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokgen.errors import ConfigError

KIND = "tokgen-diffusion"
OBJECTIVES = ("v", "flow")  # v-prediction (DPM-Solver++) or flow matching (flow Euler)


@dataclass
class DiffusionConfig:
    """Sizes of the DiT, the latent it models, its objective and its sampling defaults."""

    codec: str = "tokgen-codec-16k"  # whose continuous latent [B, D, F] is modelled
    latent_dim: int = 49  # D
    frame_rate: float = 50.0
    patch: int = 2  # latent frames per transformer position
    width: int = 192  # heads * head_dim
    heads: int = 3
    layers: int = 6
    caption_dim: int = 384  # MiniLM token states
    max_caption_tokens: int = 32
    duration_features: int = 16  # Fourier features of the duration (the global timing token)
    max_duration: float = 10.0  # seconds
    objective: str = "v"
    train_timesteps: int = 1000
    steps: int = 16  # default sampling steps
    cfg_scale: float = 3.0  # default guidance
    tasks: list[str] = field(default_factory=lambda: ["tta", "continuation"])
    kind: str = KIND

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}.")
        if self.width % self.heads or (self.width // self.heads) % 4:
            raise ConfigError(
                f"width {self.width} must split into {self.heads} heads of a multiple of 4."
            )
        if self.patch < 1 or self.layers < 1 or self.max_duration <= 0:
            raise ConfigError("patch and layers must be >= 1 and max_duration > 0.")

    @property
    def max_frames(self) -> int:
        return round(self.max_duration * self.frame_rate)

    @property
    def global_dim(self) -> int:
        """The global conditioning vector: pooled caption + duration features."""
        return self.caption_dim + self.duration_features
