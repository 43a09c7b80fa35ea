"""One exception family for tokgen.

Every error tokgen raises on purpose derives from :class:`TokgenError`; errors caused by
bad input also derive from :class:`ValueError`, so ``except ValueError`` keeps working.
Messages say what was wrong and what to do about it.
"""

from __future__ import annotations


class TokgenError(Exception):
    """Base class of every error tokgen raises on purpose."""


class InvalidInputError(TokgenError, ValueError):
    """An argument, tensor or file given to tokgen is not usable."""


class InvalidAudioError(InvalidInputError):
    """Audio samples are empty, too short or long, non-finite, or of the wrong shape/dtype."""


class AudioFileError(InvalidAudioError):
    """An audio file is missing, unreadable or corrupt."""


class ConfigError(InvalidInputError):
    """A configuration (YAML recipe, config.json) is malformed or inconsistent."""


class CodesError(InvalidInputError):
    """Codec tokens have the wrong shape, range or provenance for the codec at hand."""


class PretrainedNotFoundError(TokgenError):
    """Pretrained weights are not available locally and were not (or could not be) fetched."""


class DownloadError(PretrainedNotFoundError):
    """An explicit download of pretrained weights failed (offline, unreachable, bad hash)."""


class MissingDependencyError(TokgenError):
    """A system program or data package tokgen needs is not installed."""
