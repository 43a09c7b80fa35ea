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
    "load_codec",
]


def load_codec(name_or_path: str = "tokgen-codec-16k", **kwargs: Any) -> Codec:
    """Load a codec by name or directory; see :func:`tokgen.codecs.load_codec`."""
    from tokgen.codecs import load_codec as _load_codec

    return _load_codec(name_or_path, **kwargs)
