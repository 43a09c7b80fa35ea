"""WORLD analysis and synthesis (``pyworld``) as compact per-frame parameter vectors.

One frame every ``frame_ms`` (20 ms at 50 Hz) is described by ``D = pitch_dims +
envelope_dims + len(AP_BAND_EDGES) - 1`` numbers::

    [ log F0 | voicing | (log F0b | voicing b) | coded envelope | band aperiodicity (ln) ]

* The optional second pitch ``F0b`` (``second_pitch=True``) carries a second harmonic
  source (two-note chords, a melody over a drone): after the first F0's harmonics are
  notched out of a 64 ms spectrum, the strongest harmonic series left is kept where it
  holds a large, clearly harmonic share of the frame's energy for at least
  ``SECOND_PITCH_MIN_FRAMES`` frames. It is synthesized with the same envelope.
* F0 comes from DIO on a 5 ms grid, refined by StoneMask and taken every 4th frame; the
  voicing is cleaned up (gaps and islands shorter than 3 frames removed). Harvest is about
  40x slower and scores only ~0.06 PESQ better (codecs/README.md). ``log F0`` is
  interpolated through unvoiced frames so the vector stays smooth.
* The spectral envelope (CheapTrick) is coded to ``envelope_dims`` mel-cepstral values with
  ``pyworld.code_spectral_envelope`` (Euclidean distance there ~ log-spectral distance).
* Aperiodicity (D4C) is averaged in ln units over five bands.

Synthesis interpolates the 20 ms parameters to 5 ms before WORLD synthesis (+0.4 PESQ for
free, measured in issue 11).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndimage

AP_BAND_EDGES = (0.0, 1000.0, 2000.0, 4000.0, 6000.0, 8000.0)  # Hz; 5 bands at 16 kHz
ANALYSIS_MS = 5.0  # DIO's grid; the frame grid is a multiple of it
SYNTHESIS_MS = 5.0
VOICING_MIN_FRAMES = 3  # shorter voiced islands / unvoiced gaps are removed
SECOND_PITCH_WINDOW = 1024  # samples of the second-pitch spectrum (64 ms), FFT size 2048
SECOND_PITCH_HARMONICS = 8
SECOND_PITCH_RESIDUAL = 0.3  # share of the frame's energy left after notching F0's harmonics
SECOND_PITCH_HARMONICITY = 0.75  # share of that residual on the second series' harmonics
SECOND_PITCH_MIN_FRAMES = 5
AP_FLOOR = 1e-3
F0_TRACKERS = ("dio", "dio-praat", "dio-plain", "harvest")  # see track_f0
PRAAT_PITCH_FLOOR = 60.0  # Hz; Praat's window is 3 periods of it (50 ms)


@dataclass(frozen=True)
class WorldSettings:
    """What the analysis needs to know; all fixed by the codec config."""

    sample_rate: int = 16_000
    frame_ms: float = 20.0
    envelope_dims: int = 40
    f0_floor: float = 50.0
    f0_ceil: float = 1100.0
    dio_allowed_range: float = 0.3
    second_pitch: bool = False
    f0_tracker: str = "dio-praat"  # see track_f0

    @property
    def fft_size(self) -> int:
        import pyworld

        return pyworld.get_cheaptrick_fft_size(self.sample_rate, self.f0_floor)

    @property
    def pitch_dims(self) -> int:
        """Leading pitch columns: (log F0, voicing) and, with a second pitch, its pair."""
        return 4 if self.second_pitch else 2

    @property
    def dim(self) -> int:
        return self.pitch_dims + self.envelope_dims + len(AP_BAND_EDGES) - 1


def _require_pyworld():
    try:
        import pyworld
    except ImportError as err:  # pragma: no cover - pyworld is a dependency
        from tokgen.errors import MissingDependencyError

        raise MissingDependencyError(
            "the parametric codec needs the WORLD vocoder: pip install pyworld-prebuilt"
        ) from err
    return pyworld


def _clean_voicing(voiced: np.ndarray) -> np.ndarray:
    """Close unvoiced gaps and drop voiced islands shorter than VOICING_MIN_FRAMES."""
    structure = np.ones(VOICING_MIN_FRAMES, dtype=bool)
    closed = ndimage.binary_closing(voiced, structure=structure) | voiced
    return ndimage.binary_opening(closed, structure=structure)


def _fill_log_f0(f0: np.ndarray, voiced: np.ndarray, default: float) -> np.ndarray:
    """``ln F0`` with unvoiced frames interpolated from their voiced neighbours."""
    index = np.arange(len(f0))
    known = voiced & (f0 > 0)
    if not known.any():
        return np.full(len(f0), np.log(default))
    return np.interp(index, index[known], np.log(f0[known]))


def _band_edges(sample_rate: int) -> list[float]:
    """The aperiodicity bands' edges below Nyquist, Nyquist last."""
    return [e for e in AP_BAND_EDGES if e < sample_rate / 2] + [sample_rate / 2]


@functools.lru_cache(maxsize=8)
def _band_matrices(sample_rate: int, fft_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``[bands, bins]`` matrices between the aperiodicity bands and the FFT bins:
    averaging weights (bins -> bands) and linear interpolation at the band centres
    (bands -> bins, held flat beyond the outer centres)."""
    freqs = np.arange(fft_size // 2 + 1) * sample_rate / fft_size
    edges = _band_edges(sample_rate)
    edges[-1] += 1  # the Nyquist bin belongs to the top band
    rows = [
        ((freqs >= lo) & (freqs < hi)).astype(np.float64) for lo, hi in itertools.pairwise(edges)
    ]
    average = np.stack(rows)
    average /= average.sum(axis=1, keepdims=True)
    centres = [(lo + hi) / 2 for lo, hi in itertools.pairwise(_band_edges(sample_rate))]
    interpolate = np.stack([np.interp(freqs, centres, unit) for unit in np.eye(len(centres))])
    return average, interpolate


def track_f0(
    x: np.ndarray, settings: WorldSettings, tracker: str = "dio"
) -> tuple[np.ndarray, np.ndarray]:
    """F0 in Hz (0 = unvoiced) and frame times ``[N]`` on the 20 ms grid.

    ``tracker``: ``"dio"`` (DIO on 5 ms + StoneMask, every 4th frame, voicing cleaned),
    ``"dio-praat"`` (the shipped codec's: the same, each frame moved up an octave where
    Praat's autocorrelation pitch is about twice DIO's), ``"dio-plain"`` (DIO at 20 ms, no
    refinement, WORLD's defaults) or ``"harvest"`` (about 40x slower); the latter two
    exist to measure the choice.
    """
    pw = _require_pyworld()
    fs = settings.sample_rate
    limits = {"f0_floor": settings.f0_floor, "f0_ceil": settings.f0_ceil}
    if tracker == "harvest":
        f0, t = pw.harvest(x, fs, frame_period=settings.frame_ms, **limits)
    elif tracker == "dio-plain":
        f0, t = pw.dio(x, fs, frame_period=settings.frame_ms, **limits)
    elif tracker in ("dio", "dio-praat"):
        step = round(settings.frame_ms / ANALYSIS_MS)
        f0, t = pw.dio(
            x, fs, frame_period=ANALYSIS_MS, allowed_range=settings.dio_allowed_range, **limits
        )
        f0, t = pw.stonemask(x, f0, t, fs)[::step], t[::step]
        voiced = _clean_voicing(f0 > 0)
        f0 = np.where(voiced, np.exp(_fill_log_f0(f0, voiced, settings.f0_floor)), 0.0)
        if tracker == "dio-praat":
            f0 = _octave_check(x, f0, t, settings)
    else:
        raise ValueError(f"unknown F0 tracker {tracker!r}; known: {F0_TRACKERS}")
    return np.ascontiguousarray(f0), np.ascontiguousarray(t)


def _octave_check(
    x: np.ndarray, f0: np.ndarray, t: np.ndarray, settings: WorldSettings
) -> np.ndarray:
    """``f0 [N]`` at times ``t``, moved up an octave where Praat's autocorrelation pitch
    says about twice (1.7-2.3x). DIO locks onto half the F0 of some recorded voices for
    whole words; Praat rarely does (issue 11: real-speech PESQ). The other direction is
    left alone: where Praat says half, it is more often Praat that errs (1-2% of the
    synthetic voices' frames, costing WER), and the recorded voice gains nothing from it."""
    import parselmouth  # praat-parselmouth, a declared dependency

    step = ANALYSIS_MS / 1000  # Praat's frames on DIO's 5 ms grid (20 ms steps: worse)
    pitch = parselmouth.Sound(x, settings.sample_rate).to_pitch_ac(
        time_step=step,
        pitch_floor=max(settings.f0_floor, PRAAT_PITCH_FLOOR),
        pitch_ceiling=settings.f0_ceil,
        octave_cost=0.01,
    )
    times, praat = pitch.xs(), pitch.selected_array["frequency"]
    nearest = np.clip(np.round((t - times[0]) / step).astype(int), 0, len(times) - 1)
    reference = np.where(np.abs(times[nearest] - t) <= step, praat[nearest], 0.0)
    ratio = np.where((f0 > 0) & (reference > 0), reference / np.maximum(f0, 1e-9), 1.0)
    return np.where((ratio > 1.7) & (ratio < 2.3), 2 * f0, f0)


def analyze(
    x: np.ndarray, frames: int, settings: WorldSettings, tracker: str | None = None
) -> np.ndarray:
    """Mono float audio ``[T]`` -> parameters ``[frames, D]`` (frame ``i`` centred at ``i*hop``).

    ``tracker`` overrides ``settings.f0_tracker``, to measure alternatives (see :func:`track_f0`).
    """
    pw = _require_pyworld()
    fs = settings.sample_rate
    x = np.ascontiguousarray(x, dtype=np.float64)  # WORLD keeps digital silence finite
    f0, t = track_f0(x, settings, tracker or settings.f0_tracker)
    voiced = f0 > 0
    log_f0 = _fill_log_f0(f0, voiced, settings.f0_floor)
    fft_size = settings.fft_size
    sp = pw.cheaptrick(x, f0, t, fs, f0_floor=settings.f0_floor, fft_size=fft_size)
    ap = pw.d4c(x, f0, t, fs, fft_size=fft_size)
    envelope = pw.code_spectral_envelope(sp, fs, settings.envelope_dims)
    bands = np.log(np.clip(ap, AP_FLOOR, 1.0)) @ _band_matrices(fs, fft_size)[0].T
    columns = [log_f0[:, None], voiced[:, None].astype(np.float64)]
    if settings.second_pitch:
        f0_main, f0b = second_pitch(x, f0, settings)
        columns[0] = _fill_log_f0(f0_main, voiced, settings.f0_floor)[:, None]
        columns += [_fill_log_f0(f0b, f0b > 0, settings.f0_floor)[:, None], (f0b > 0)[:, None]]
    params = np.concatenate([*columns, envelope, bands], axis=1)
    return _fit_frames(params, frames)


def frame_power(x: np.ndarray, frames: int, settings: WorldSettings) -> np.ndarray:
    """Power spectra ``[frames, bins]`` of 64 ms Hann windows centred on the frames (2x padded)."""
    window, n_fft = SECOND_PITCH_WINDOW, 2 * SECOND_PITCH_WINDOW
    hop = round(settings.sample_rate * settings.frame_ms / 1000)
    padded = np.pad(x, (window // 2, window // 2))
    starts = np.arange(frames) * hop
    index = np.clip(starts[:, None] + np.arange(window)[None], 0, len(padded) - 1)
    return np.abs(np.fft.rfft(padded[index] * np.hanning(window), n_fft, axis=1)) ** 2


def _harmonic_bins(
    f0: np.ndarray, sample_rate: int, num_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """FFT bins ``[..., H]`` of the first harmonics of each F0 ``[...]`` (Hz) in a spectrum
    of ``num_bins`` bins, and whether each lies below Nyquist less 200 Hz."""
    n_fft = 2 * (num_bins - 1)
    harmonics = np.arange(1, SECOND_PITCH_HARMONICS + 1) * f0[..., None]
    bins = np.clip(np.round(harmonics * n_fft / sample_rate).astype(int), 0, num_bins - 1)
    return bins, harmonics < sample_rate / 2 - 200


def harmonic_salience(
    power: np.ndarray, candidates: np.ndarray, sample_rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted energy on the harmonics of each candidate F0 ``[N, C]`` (Hz) of each frame.

    Low harmonics weigh most (0.7 ** h), so a subharmonic of the true F0 scores lower than
    it. Returns the scores ``[N, C]`` and the lobe-summed spectra ``[N, bins]``.
    """
    lobes = ndimage.uniform_filter1d(power, 7, axis=1) * 7  # a partial's whole main lobe
    bins, valid = _harmonic_bins(candidates, sample_rate, power.shape[1])  # [N, C, H]
    weights = 0.7 ** np.arange(SECOND_PITCH_HARMONICS)
    rows = np.arange(len(power))[:, None, None]
    return (lobes[rows, bins] * valid * weights).sum(-1), lobes


def second_pitch(
    x: np.ndarray, f0: np.ndarray, settings: WorldSettings
) -> tuple[np.ndarray, np.ndarray]:
    """A second harmonic series beside ``f0 [N]`` (see module doc): ``(f0', f0b)`` in Hz.

    Where a second series is found, the first F0 is re-estimated from the same spectrum
    (the best harmonic series within 12% of DIO's), since DIO wavers on chords;
    ``f0b`` is 0 elsewhere.
    """
    fs = settings.sample_rate
    power = frame_power(x, len(f0), settings)  # [N, bins]
    freqs = np.arange(power.shape[1]) * fs / (2 * (power.shape[1] - 1))
    grid = np.exp(np.linspace(np.log(settings.f0_floor), np.log(settings.f0_ceil), 240))
    candidates = np.broadcast_to(grid, (len(f0), len(grid)))  # [N, C]
    near = np.abs(np.log(grid[None] / np.where(f0 > 0, f0, 1.0)[:, None])) < 0.12
    whole, _ = harmonic_salience(power, candidates, fs)
    refined = np.where(f0 > 0, grid[np.where(near, whole, -1.0).argmax(1)], 0.0)
    # notch the first series: bins within 3% (at least 4 bins) of a multiple of it
    safe = np.where(refined > 0, refined, np.inf)[:, None]
    multiple = np.maximum(np.round(freqs[None] / safe), 1) * safe
    notch = np.abs(freqs[None] - multiple) <= np.maximum(0.03 * multiple, 4 * freqs[1])
    residual = np.where(notch & (refined[:, None] > 0), 0.0, power)
    scores, lobes = harmonic_salience(residual, candidates, fs)
    best = scores.argmax(1)
    bins, valid = _harmonic_bins(grid[best], fs, power.shape[1])  # [N, H]
    on_series = np.take_along_axis(lobes, bins, 1) * valid
    left = residual.sum(1) + 1e-12
    share = left / (power.sum(1) + 1e-12)
    harmonic = on_series.sum(1) / left
    keep = (share > SECOND_PITCH_RESIDUAL) & (harmonic > SECOND_PITCH_HARMONICITY) & (f0 > 0)
    keep = ndimage.binary_opening(keep, structure=np.ones(SECOND_PITCH_MIN_FRAMES, dtype=bool))
    return np.where(keep, refined, f0), np.where(keep, grid[best], 0.0)


def _fit_frames(params: np.ndarray, frames: int) -> np.ndarray:
    """Trim or edge-pad ``[N, D]`` to ``[frames, D]``."""
    if len(params) >= frames:
        return params[:frames]
    return np.pad(params, ((0, frames - len(params)), (0, 0)), mode="edge")


def synthesize(params: np.ndarray, settings: WorldSettings) -> np.ndarray:
    """Parameters ``[F, D]`` -> audio ``[F * hop]`` (WORLD, parameters interpolated to 5 ms)."""
    pw = _require_pyworld()
    fs = settings.sample_rate
    hop = round(fs * settings.frame_ms / 1000)
    frames = len(params)
    params = np.array(params, dtype=np.float64)
    for column in range(0, settings.pitch_dims, 2):  # smooth ln F0 through unvoiced frames
        voiced = params[:, column + 1] >= 0.5
        f0 = np.exp(np.clip(params[:, column], -10, 10))
        params[:, column] = _fill_log_f0(f0, voiced, settings.f0_floor)
    params = np.concatenate([params, params[-1:]], axis=0)  # one more frame: covers F*hop
    src = np.arange(frames + 1) * settings.frame_ms
    dst = np.arange(0.0, frames * settings.frame_ms + 1e-9, SYNTHESIS_MS)
    fine = np.stack([np.interp(dst, src, column) for column in params.T], axis=1)  # [F', D]
    start, dims = settings.pitch_dims, settings.envelope_dims
    fft_size = settings.fft_size
    sp = pw.decode_spectral_envelope(
        np.ascontiguousarray(fine[:, start : start + dims]), fs, fft_size
    )
    bands = fine[:, start + dims :]
    ap = np.ascontiguousarray(
        np.exp(np.clip(bands @ _band_matrices(fs, fft_size)[1], np.log(AP_FLOOR), 0.0))
    )
    y = pw.synthesize(_pitch(fine[:, 0], fine[:, 1], fs), sp, ap, fs, SYNTHESIS_MS)
    if settings.second_pitch and (fine[:, 3] >= 0.5).any():
        second = fine[:, 3] >= 0.5
        quiet = np.where(second[:, None], sp, 1e-12 * sp)  # the second source only where it is
        periodic = np.full_like(ap, AP_FLOOR)
        y_b = pw.synthesize(_pitch(fine[:, 2], fine[:, 3], fs), quiet, periodic, fs, SYNTHESIS_MS)
        gain = np.interp(np.arange(len(y)) / fs * 1000, dst, np.where(second, 0.5**0.5, 1.0))
        y = y * gain + y_b[: len(y)] * 0.5**0.5
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    return np.pad(y, (0, max(0, frames * hop - len(y))))[: frames * hop]


def _pitch(log_f0: np.ndarray, voicing: np.ndarray, sample_rate: int) -> np.ndarray:
    """F0 in Hz for WORLD (0 where unvoiced) from interpolated ``ln F0`` and voicing."""
    f0 = np.exp(np.clip(log_f0, np.log(20.0), np.log(sample_rate / 4)))
    return np.ascontiguousarray(np.where(voicing >= 0.5, f0, 0.0))
