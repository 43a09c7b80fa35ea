"""The one audio contract of tokgen: load, validate, resample, convert channels, save.

Every audio argument anywhere in tokgen (a codec's ``encode``, a prompt, a mixture) goes
through :func:`load`, which accepts

* a path to any file soundfile reads (wav, flac, ogg, ...),
* a ``torch.Tensor`` or ``numpy.ndarray`` of float samples in [-1, 1] shaped ``[T]``,
  ``[C, T]`` or ``[B, C, T]`` together with ``sample_rate=``,
* a ``(samples, sample_rate)`` tuple,

and returns an :class:`Audio` whose ``samples`` are always float32 ``[B, C, T]``.
Bad input raises :class:`~tokgen.errors.InvalidAudioError` naming the problem and the fix;
silence is valid input.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf
import torch

from tokgen.errors import AudioFileError, InvalidAudioError, InvalidInputError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")  # what save() writes
SAMPLE_SPEECH = Path(__file__).resolve().parent / "assets" / "sample_speech.wav"  # bundled clip

MAX_CHANNELS = 2
"""The most channels any tokgen model handles (mono or stereo)."""

DEFAULT_MAX_SECONDS = float(os.environ.get("TOKGEN_MAX_AUDIO_SECONDS", "3600"))
"""Longest audio accepted by default; set ``TOKGEN_MAX_AUDIO_SECONDS`` or pass ``max_seconds``."""

PEAK_LIMIT = 0.999
""":func:`save` scales audio down to this peak when it would clip."""

Samples = Union[torch.Tensor, np.ndarray]  # noqa: UP007 (a runtime alias)
AudioInput = Union[str, os.PathLike, Samples, tuple[Samples, int], "Audio"]


@dataclass(frozen=True)
class Audio:
    """Validated audio: float32 ``samples`` shaped ``[B, C, T]`` at ``sample_rate`` Hz."""

    samples: torch.Tensor
    sample_rate: int

    @property
    def num_samples(self) -> int:
        return self.samples.shape[-1]

    @property
    def num_channels(self) -> int:
        return self.samples.shape[-2]

    @property
    def duration(self) -> float:
        """Seconds of audio per batch item."""
        return self.num_samples / self.sample_rate


def load(
    source: AudioInput,
    sample_rate: int | None = None,
    *,
    target_sample_rate: int | None = None,
    channels: int | None = None,
    max_seconds: float | None = None,
    min_samples: int = 1,
    offset: float = 0.0,
    duration: float | None = None,
) -> Audio:
    """Read and validate any audio input, optionally resampling and converting channels.

    Args:
        source: a path, a tensor/array (then ``sample_rate`` is required), a
            ``(samples, sample_rate)`` tuple, or an :class:`Audio`.
        sample_rate: the sample rate of a tensor/array ``source``.
        target_sample_rate: resample to this rate if given.
        channels: convert to this many channels (1 = mono down-mix, 2 = stereo) if given.
        max_seconds: reject longer audio (default :data:`DEFAULT_MAX_SECONDS`).
        min_samples: reject audio shorter than this many samples (after resampling).
        offset, duration: for a file, read only this window (seconds) of it.

    Returns:
        :class:`Audio` with float32 samples ``[B, C, T]``.
    """
    samples, rate, what = _samples_and_rate(source, sample_rate, offset, duration)
    if rate <= 0:
        raise InvalidAudioError(f"sample rate must be a positive integer, got {rate}.")
    wav = as_batch(samples, what=what)
    if channels is not None:
        wav = convert_channels(wav, channels)
    if target_sample_rate is not None:
        wav = resample(wav, rate, target_sample_rate)
        rate = target_sample_rate
    validate(wav, rate, max_seconds=max_seconds, min_samples=min_samples, what=what)
    return Audio(wav, rate)


def rate_of_samples(source: AudioInput, sample_rate: int | None) -> int | None:
    """The ``sample_rate`` a caller gave alongside ``source``, for :func:`load`: kept for
    bare samples (a tensor or array), None for a file or a ``(samples, rate)`` tuple, which
    carry their own. For APIs that take one ``sample_rate=`` for several audio arguments."""
    return None if isinstance(source, (str, os.PathLike, tuple, Audio)) else sample_rate


def _samples_and_rate(
    source: AudioInput, sample_rate: int | None, offset: float, duration: float | None
) -> tuple[Samples, int, str]:
    """``(samples, rate, what)`` of any audio input, before any checking or conversion."""
    if isinstance(source, Audio):
        return source.samples, source.sample_rate, "audio"
    elif isinstance(source, (str, os.PathLike)):
        if sample_rate is not None:
            raise InvalidAudioError(
                f"sample_rate={sample_rate} was given with a file path ({source}); "
                "a file carries its own sample rate, so leave sample_rate out."
            )
        samples, rate = _read_file(Path(source), offset, duration)
        return samples, rate, f"audio file {source}"
    elif isinstance(source, tuple):
        if (
            len(source) != 2
            or isinstance(source[1], bool)
            or not isinstance(source[1], (int, np.integer))
        ):
            raise InvalidAudioError(
                "an audio tuple must be (samples, sample_rate) with an int sample rate, "
                f"got a tuple of {len(source)} items."
            )
        return source[0], int(source[1]), "audio"
    elif isinstance(source, (torch.Tensor, np.ndarray)):
        if sample_rate is None:
            raise InvalidAudioError(
                "audio samples were given without a sample rate; pass sample_rate=... "
                "(or a (samples, sample_rate) tuple). tokgen never guesses the rate."
            )
        return source, _rate(sample_rate), "audio"
    raise InvalidAudioError(
        f"cannot read audio from a {type(source).__name__}; pass a file path, a "
        "torch.Tensor / numpy array with sample_rate=, or a (samples, sample_rate) tuple."
    )


def as_batch(samples: Samples, *, what: str = "audio") -> torch.Tensor:
    """Check dtype and layout of raw samples and return float32 ``[B, C, T]``."""
    if isinstance(samples, np.ndarray):
        if samples.dtype.kind in "iub":
            _raise_integer(str(samples.dtype), what)
        if samples.dtype.kind != "f":
            raise InvalidAudioError(f"{what} has dtype {samples.dtype}; pass float samples.")
        samples = torch.from_numpy(np.ascontiguousarray(samples))
    if not isinstance(samples, torch.Tensor):
        raise InvalidAudioError(
            f"{what}: expected a tensor or array, got {type(samples).__name__}."
        )
    if not samples.is_floating_point():
        if samples.is_complex():
            raise InvalidAudioError(f"{what} is complex; pass real float samples.")
        _raise_integer(str(samples.dtype), what)
    if samples.ndim == 1:  # [T]
        samples = samples[None, None]
    elif samples.ndim == 2:  # [C, T]
        samples = samples[None]
    elif samples.ndim != 3:
        raise InvalidAudioError(
            f"{what} has shape {tuple(samples.shape)}; expected [T], [C, T] or [B, C, T]."
        )
    channels = samples.shape[1]
    if channels > MAX_CHANNELS:
        hint = (
            " It looks like [T, C]: transpose it (wav.T)."
            if samples.shape[-1] <= MAX_CHANNELS
            else " Down-mix it first, e.g. wav.mean(dim=-2, keepdim=True)."
        )
        raise InvalidAudioError(
            f"{what} has {channels} channels; tokgen supports at most {MAX_CHANNELS}.{hint}"
        )
    return samples.to(torch.float32)


def _raise_integer(dtype: str, what: str) -> None:
    raise InvalidAudioError(
        f"{what} holds integer PCM ({dtype}); tokgen expects float samples in [-1, 1]. "
        "Convert it first, e.g. wav.float() / 32768 for int16 or / 2**31 for int32."
    )


def _rate(sample_rate: object) -> int:
    """A sample rate given with samples: a positive integer (numpy / 0-d torch ones too)."""
    from tokgen.checks import integer

    try:
        return integer("sample_rate", sample_rate, low=1)
    except InvalidInputError as err:  # an audio error, so callers catch one family
        raise InvalidAudioError(
            f"sample rate must be a positive integer number of Hz (e.g. 16000), "
            f"got {sample_rate!r}."
        ) from err


def validate(
    wav: torch.Tensor,
    sample_rate: int,
    *,
    max_seconds: float | None = None,
    min_samples: int = 1,
    what: str = "audio",
) -> None:
    """Raise :class:`InvalidAudioError` unless ``wav [B, C, T]`` is usable."""
    hint = (
        " Split it, or raise the limit with TOKGEN_MAX_AUDIO_SECONDS."
        if max_seconds is None
        else " Use a shorter clip (this limit is the caller's, e.g. a model's maximum)."
    )
    max_seconds = DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds
    num_samples = wav.shape[-1]
    if wav.numel() == 0:
        raise InvalidAudioError(f"{what} is empty (shape {tuple(wav.shape)}); pass some samples.")
    if num_samples < min_samples:
        raise InvalidAudioError(
            f"{what} is too short: {num_samples} samples ({num_samples / sample_rate * 1000:.1f} ms)"
            f" at {sample_rate} Hz; at least {min_samples} samples "
            f"({min_samples / sample_rate * 1000:.1f} ms) are needed. Pad it or use a longer clip."
        )
    if num_samples > max_seconds * sample_rate:
        raise InvalidAudioError(
            f"{what} is {num_samples / sample_rate:.1f} s long, over the limit of {max_seconds:g} s."
            + hint
        )
    finite = torch.isfinite(wav)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        first = int((~finite).flatten(0, -2).any(0).nonzero()[0])
        raise InvalidAudioError(
            f"{what} has {bad} non-finite samples (NaN or inf), the first at sample {first}. "
            "Clean it first, e.g. torch.nan_to_num(wav, nan=0.0, posinf=1.0, neginf=-1.0)."
        )


def resample(wav: torch.Tensor, orig_sample_rate: int, new_sample_rate: int) -> torch.Tensor:
    """Band-limited resampling of ``wav [..., T]`` (torchaudio's windowed sinc)."""
    if orig_sample_rate == new_sample_rate:
        return wav
    import torchaudio.functional as taf  # heavy import, only when resampling

    return taf.resample(wav, orig_sample_rate, new_sample_rate)


def convert_channels(wav: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert ``wav [..., C, T]`` to ``channels``: down-mix to mono by mean, duplicate mono."""
    current = wav.shape[-2]
    if channels == current:
        return wav
    if channels == 1:
        return wav.mean(dim=-2, keepdim=True)
    if current == 1:
        return wav.expand(*wav.shape[:-2], channels, wav.shape[-1]).contiguous()
    raise InvalidAudioError(
        f"cannot convert {current}-channel audio to {channels} channels; "
        "down-mix to mono first (wav.mean(dim=-2, keepdim=True))."
    )


def info(path: str | os.PathLike) -> tuple[int, int]:
    """``(num_frames, sample_rate)`` of an audio file, without reading its samples."""
    path = Path(path)
    _check_exists(path)
    try:
        meta = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _unreadable(path, err) from err
    return int(meta.frames), int(meta.samplerate)


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(f"audio file not found: {path}. Check the path.")
    if path.is_dir():
        raise AudioFileError(f"{path} is a directory, not an audio file.")


def _unreadable(path: Path, err: Exception) -> AudioFileError:
    return AudioFileError(
        f"cannot read audio file {path}: {err}. It is corrupt or not in a format "
        "soundfile reads (wav, flac, ogg, mp3); convert it, e.g. with sox or ffmpeg."
    )


def _read_file(
    path: Path, offset: float = 0.0, duration: float | None = None
) -> tuple[torch.Tensor, int]:
    """Read ``path`` (or a window of it, in seconds) into float32 ``[C, T]`` and its rate."""
    _check_exists(path)
    try:
        with sf.SoundFile(str(path)) as handle:  # one open: header and samples
            rate = handle.samplerate
            start = min(round(offset * rate), handle.frames)
            handle.seek(start)
            frames = -1 if duration is None else round(duration * rate)
            data = handle.read(frames, dtype="float32", always_2d=True)  # [T, C]
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _unreadable(path, err) from err
    return torch.from_numpy(data.T.copy()), int(rate)  # [C, T]


def batch_paths(path: str | os.PathLike, count: int) -> list[Path]:
    """Where a batch of ``count`` clips goes: ``path`` itself for one, else
    ``stem-0.wav, stem-1.wav, ...`` beside it (the one naming rule of every command)."""
    path = Path(path)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(count)]


def save(path: str | os.PathLike, wav: Samples, sample_rate: int) -> Path:
    """Write ``wav`` (``[T]``, ``[C, T]`` or ``[1, C, T]``) to ``path``, never clipping.

    The format follows the suffix (``.wav`` is 16-bit PCM). Audio whose peak exceeds
    :data:`PEAK_LIMIT` is scaled down to it, with a warning. The file is written to a
    temporary name and renamed, so an interrupted save never leaves a partial file.
    """
    from tokgen.checks import output_path

    try:
        path = output_path(path, AUDIO_SUFFIXES, "audio")
    except InvalidInputError as err:
        raise AudioFileError(f"cannot write {err}") from err
    batch = as_batch(wav, what="audio to save")
    if batch.shape[0] != 1:
        raise InvalidAudioError(
            f"save() writes one clip, got a batch of {batch.shape[0]}; save each item."
        )
    validate(batch, sample_rate, max_seconds=math.inf, what="audio to save")
    clip = batch[0]  # [C, T]
    peak = float(clip.abs().max())
    if peak > PEAK_LIMIT:
        warnings.warn(
            f"audio peaks at {peak:.3f}; scaled down to {PEAK_LIMIT} to avoid clipping",
            stacklevel=2,
        )
        clip = clip * (PEAK_LIMIT / peak)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        sf.write(str(tmp), clip.T.cpu().numpy(), sample_rate)
    except (sf.LibsndfileError, ValueError, TypeError) as err:
        tmp.unlink(missing_ok=True)
        raise AudioFileError(
            f"cannot write {path}: {err}. Use a .wav, .flac or .ogg path."
        ) from err
    os.replace(tmp, path)
    return path
