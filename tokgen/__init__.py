"""tokgen: codec-token generative audio.

Importing tokgen is light: torch and the codec backends load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokgen.errors import (
    AudioFileError,
    CodesError,
    ConfigError,
    DownloadError,
    InvalidAudioError,
    InvalidInputError,
    PretrainedNotFoundError,
    TokgenError,
)

if TYPE_CHECKING:
    from tokgen.codecs import Codec
    from tokgen.diffusion import DiffusionModel
    from tokgen.pipeline import GenerationOutput, TokgenModel

__version__ = "0.1.0"

__all__ = [
    "AudioFileError",
    "CodesError",
    "ConfigError",
    "DownloadError",
    "InvalidAudioError",
    "InvalidInputError",
    "PretrainedNotFoundError",
    "TokgenError",
    "__version__",
    "generate",
    "load",
    "load_codec",
]


def load_codec(name_or_path: str = "tokgen-codec-16k", **kwargs: Any) -> Codec:
    """Load a codec by name or directory; see :func:`tokgen.codecs.load_codec`."""
    from tokgen.codecs import load_codec as _load_codec

    return _load_codec(name_or_path, **kwargs)


def load(
    name_or_path: str = "tokgen-small",
    *,
    device: str | None = None,
    decoder: str | dict[str, Any] | None = None,
) -> TokgenModel | DiffusionModel:
    """Load a generative model by name or directory (a codec LM such as ``tokgen-small``
    or a latent diffusion model such as ``tokgen-diffusion-small``) on ``device`` (default
    the CPU), an LM optionally with another ``decoder`` (``"codec"``: separation
    resynthesizes instead of masking the mixture); see :func:`tokgen.pipeline.load`."""
    from tokgen.pipeline import load as _load

    return _load(name_or_path, device=device, decoder=decoder)


_DEFAULT_MODELS: dict[str, Any] = {}  # name -> loaded model


def generate(task: str, text: Any = None, **kwargs: Any) -> GenerationOutput:
    """``model.generate(...)`` on the shipped default model for ``task`` (``tokgen-small``;
    ``tokgen-tts-small`` for ``tts``), loaded once per process."""
    from tokgen.pipeline import default_model

    name = default_model(task)
    if name not in _DEFAULT_MODELS:
        _DEFAULT_MODELS[name] = load(name)
    return _DEFAULT_MODELS[name].generate(task, text, **kwargs)
