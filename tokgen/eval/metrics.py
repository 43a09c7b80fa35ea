"""Audio quality and intelligibility metrics on mono signals ``[T]`` (float torch tensors).

Every function takes a reference and an estimate of the same length at the same sample
rate and returns a Python float. ``stoi`` and ``pesq_wb`` return NaN where the measure is
undefined (too short, or no speech found) so an evaluation run never stops on one clip.
:class:`Transcriber` and :func:`word_error_rate` give ASR-based intelligibility
(pocketsphinx's bundled en-us model, jiwer).
"""

from __future__ import annotations

import functools
import importlib
import math
import re
import warnings
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import torch

from tokgen import audio as audio_io
from tokgen.errors import InvalidInputError, TokgenError

EPS = torch.finfo(torch.float64).eps
"""Added to energies so silence gives finite SI-SDR (tiny: quiet estimates stay exact)."""

MEL_N_FFT, MEL_HOP, MEL_BINS, MEL_FLOOR = 1024, 256, 80, 1e-5
"""Settings of :func:`mel_distance`."""

STFT_SIZES = (512, 1024, 2048)
"""FFT sizes of :func:`multi_resolution_stft_distance` (hop = size / 4, Hann window = size)."""

MAG_FLOOR = 1e-7
"""Magnitude floor of :func:`multi_resolution_stft_distance` (log of silence stays finite)."""

SPEECH_SAMPLE_RATE = 16_000
"""Rate PESQ-WB and pocketsphinx work at; other rates are resampled to it."""


def _optional(module: str) -> ModuleType:
    """Import an evaluation dependency (the ``eval`` extra), or say how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise TokgenError(
            f"{module} is needed for this metric; install it with pip install 'tokgen[eval]'."
        ) from err


def _check_pair(ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two mono signals ``[T]`` of equal length; return them as float64."""
    if ref.ndim != 1 or ref.shape != est.shape or ref.numel() == 0:
        raise InvalidInputError(
            f"metrics take two non-empty mono signals [T] of equal length, got "
            f"{tuple(ref.shape)} and {tuple(est.shape)}; down-mix and trim them first."
        )
    return ref.double(), est.double()


def si_sdr(ref: torch.Tensor, est: torch.Tensor) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019) of zero-mean ``ref``, ``est`` ``[T]``.

    ``10 log10(|a ref|² / |est - a ref|²)`` with ``a = <est, ref> / |ref|²``; :data:`EPS`
    is added to both energies, so identical signals give a large finite value (~200 dB).
    A silent ``est`` gives 0 dB (0/0): the spectral distances are the ones that flag it.
    """
    ref, est = _check_pair(ref, est)
    ref, est = ref - ref.mean(), est - est.mean()
    scale = (est @ ref) / (ref @ ref + EPS)
    target = scale * ref  # [T]
    noise = est - target  # [T]
    return 10 * math.log10((float(target @ target) + EPS) / (float(noise @ noise) + EPS))


@functools.lru_cache(maxsize=4)
def _mel_transform(sample_rate: int) -> torch.nn.Module:
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate,
        n_fft=MEL_N_FFT,
        hop_length=MEL_HOP,
        n_mels=MEL_BINS,
        power=1.0,
        center=True,
        pad_mode="constant",
    ).double()


def mel_distance(ref: torch.Tensor, est: torch.Tensor, sample_rate: int) -> float:
    """Mean L1 between log10 mel spectrograms of ``ref`` and ``est`` ``[T]``.

    Settings: magnitude (power 1) STFT with a 1024-sample Hann window, hop 256, centered
    zero-padded frames; 80 HTK mel bands from 0 Hz to ``sample_rate / 2``; magnitudes
    floored at 1e-5 before ``log10``; the mean is over bands and frames.
    """
    ref, est = _check_pair(ref, est)
    mel = _mel_transform(sample_rate)
    log_ref = mel(ref).clamp_min(MEL_FLOOR).log10()  # [MEL_BINS, frames]
    log_est = mel(est).clamp_min(MEL_FLOOR).log10()
    return float((log_ref - log_est).abs().mean())


def _stft_magnitude(wav: torch.Tensor, n_fft: int) -> torch.Tensor:
    """``[T]`` -> floored magnitude ``[n_fft // 2 + 1, frames]``."""
    window = torch.hann_window(n_fft, dtype=wav.dtype)
    spec = torch.stft(
        wav,
        n_fft,
        hop_length=n_fft // 4,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return spec.abs().clamp_min(MAG_FLOOR)


def multi_resolution_stft_distance(ref: torch.Tensor, est: torch.Tensor) -> float:
    """Multi-resolution STFT distance of ``est`` to ``ref`` ``[T]`` (as in parallel-wavegan/auraloss).

    For each FFT size in :data:`STFT_SIZES` (hop = size / 4, Hann window of the FFT size,
    centered zero-padded frames, magnitudes floored at :data:`MAG_FLOOR`): spectral
    convergence ``|S_ref - S_est|_F / |S_ref|_F`` plus the mean L1 between log magnitudes;
    the result is the mean of these sums over the resolutions. 0 for identical inputs.
    """
    ref, est = _check_pair(ref, est)
    total = 0.0
    for n_fft in STFT_SIZES:
        mag_ref, mag_est = _stft_magnitude(ref, n_fft), _stft_magnitude(est, n_fft)  # [F, N]
        convergence = (mag_ref - mag_est).norm() / mag_ref.norm()
        log_l1 = (mag_ref.log() - mag_est.log()).abs().mean()
        total += float(convergence + log_l1)
    return total / len(STFT_SIZES)


def _to_numpy_at(wav: torch.Tensor, sample_rate: int, target_rate: int) -> np.ndarray:
    """``[T]`` at ``sample_rate`` -> float64 numpy ``[T']`` at ``target_rate``."""
    return audio_io.resample(wav, sample_rate, target_rate).cpu().numpy()


def stoi(ref: torch.Tensor, est: torch.Tensor, sample_rate: int) -> float:
    """Short-time objective intelligibility (pystoi, classic STOI) in [0, 1].

    pystoi resamples to its internal 10 kHz itself, so any ``sample_rate`` works. Returns
    NaN where pystoi cannot compute it (too few non-silent frames).
    """
    ref, est = _check_pair(ref, est)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _optional("pystoi").stoi(ref.cpu().numpy(), est.cpu().numpy(), sample_rate)
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return math.nan
    return float(value)


def pesq_wb(ref: torch.Tensor, est: torch.Tensor, sample_rate: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2 MOS-LQO, about 1.0-4.6), at 16 kHz.

    Inputs at other rates are resampled to 16 kHz. Returns NaN where PESQ is undefined:
    no utterance detected (silence, non-speech), or less than 1/4 s of audio.
    """
    pesq = _optional("pesq")
    ref, est = _check_pair(ref, est)
    ref_np = _to_numpy_at(ref, sample_rate, SPEECH_SAMPLE_RATE)
    est_np = _to_numpy_at(est, sample_rate, SPEECH_SAMPLE_RATE)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # pesq divides by the peak
            return float(pesq.pesq(SPEECH_SAMPLE_RATE, ref_np, est_np, "wb"))
    except pesq.PesqError:  # NoUtterancesError, BufferTooShortError, ...
        return math.nan


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation (keeping in-word apostrophes), collapse whitespace."""
    words = re.sub(r"[^a-z0-9']+", " ", text.lower()).split()
    return " ".join(word.strip("'") for word in words if word.strip("'"))


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus-level WER (jiwer) after :func:`normalize_text`: total edits / reference words."""
    if len(references) != len(hypotheses) or not references:
        raise InvalidInputError(
            f"word_error_rate needs one hypothesis per reference and at least one pair, "
            f"got {len(references)} references and {len(hypotheses)} hypotheses."
        )
    refs = [normalize_text(text) for text in references]
    if not all(refs):
        raise InvalidInputError("a reference transcript is empty after normalization.")
    return float(_optional("jiwer").wer(refs, [normalize_text(text) for text in hypotheses]))


class Transcriber:
    """English ASR with pocketsphinx's bundled en-us model (loaded once, offline)."""

    def __init__(self) -> None:
        pocketsphinx = _optional("pocketsphinx")
        self._decoder = pocketsphinx.Decoder(loglevel="FATAL")  # default hmm / lm / dict: en-us

    def transcribe(self, wav: torch.Tensor, sample_rate: int) -> str:
        """Mono float ``[T]`` in [-1, 1] -> normalized text ('' if nothing is recognized).

        Audio is resampled to 16 kHz and quantized to int16, the format the model expects.
        Each clip is decoded afresh: the result does not depend on the clips before it.
        """
        if wav.ndim != 1 or wav.numel() == 0:
            raise InvalidInputError(f"transcribe takes mono audio [T], got {tuple(wav.shape)}.")
        samples = audio_io.resample(wav.float().cpu(), sample_rate, SPEECH_SAMPLE_RATE)
        pcm = (samples.clamp(-1.0, 1.0) * 32767).round().to(torch.int16).numpy()  # [T']
        self._decoder.reinit_feat()  # else feature statistics carry over from the last clip
        self._decoder.start_utt()
        self._decoder.process_raw(pcm.tobytes(), full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return normalize_text(hypothesis.hypstr) if hypothesis is not None else ""
