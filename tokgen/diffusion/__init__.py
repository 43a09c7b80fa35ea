"""The latent diffusion decoder: a small diffusers DiT over the codec's continuous latents.

``tokgen.load("tokgen-diffusion-small").generate("tta", text=..., duration=...)`` returns
the same :class:`~tokgen.pipeline.GenerationOutput` as the LM models.
"""

from tokgen.diffusion.config import DiffusionConfig
from tokgen.diffusion.model import Conditioning, LatentDiT
from tokgen.diffusion.pipeline import (
    PIPELINE_KIND,
    DiffusionModel,
    debug_diffusion,
    load_diffusion,
    read_diffusion_config,
    save_diffusion,
)

__all__ = [
    "PIPELINE_KIND",
    "Conditioning",
    "DiffusionConfig",
    "DiffusionModel",
    "LatentDiT",
    "debug_diffusion",
    "load_diffusion",
    "read_diffusion_config",
    "save_diffusion",
]
