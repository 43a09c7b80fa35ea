"""Render one planned corpus clip to a 16 kHz mono 16-bit wav, atomically.

Every renderer writes into a private temporary folder and renames the finished file into
place, so an interrupted build never leaves a partial clip under its final name.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from tokgen.data import midi
from tokgen.data.system_tools import FREEDESKTOP_SOUNDS, SOUNDFONT, run
from tokgen.data.voices import VOICE_BY_ID, engine_command

SAMPLE_RATE = 16_000
SILENCE_PEAK = 1e-3  # a source render quieter than this failed
MIX_PEAK = 0.9  # mixtures (and their sources) are scaled down together to this peak


def _sox_to_corpus(src: Path, dst: Path, effects: list[str], level_db: float) -> None:
    """``src`` -> 16 kHz mono 16-bit ``dst`` through sox ``effects``, peak at ``level_db``.

    A DC-blocking high-pass runs first; a render that is (near) silent raises.
    """
    raw = dst.with_name("sox.wav")
    run(["sox", str(src), "-e", "float", "-b", "32", str(raw), "remix", "-", "highpass", "10",
         *effects, "rate", str(SAMPLE_RATE)])  # fmt: skip
    samples = _read(raw)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak < SILENCE_PEAK:
        raise RuntimeError(f"the render of {src.name} is silent (peak {peak:.2e})")
    sf.write(str(dst), samples * (10 ** (level_db / 20) / peak), SAMPLE_RATE, subtype="PCM_16")


def _speech(row: dict[str, Any], tmp: Path, out: Path) -> None:
    voice = VOICE_BY_ID[row["voice"]]
    raw = tmp / "raw.wav"
    command, stdin = engine_command(voice, row["transcript"], str(raw))
    run(command, stdin=stdin)
    effects = []
    if voice.pitch_cents:
        effects += ["pitch", str(voice.pitch_cents)]
    if voice.tempo != 1.0:
        effects += ["tempo", "-s", str(voice.tempo)]
    _sox_to_corpus(raw, out, effects, row["params"]["level_db"])


def _midi_notes(row: dict[str, Any]) -> tuple[list[midi.Note], int | None, bool]:
    """The notes, GM program and drum flag of a fluidsynth clip, from its params."""
    p = row["params"]
    rng = random.Random(p["midi_seed"])
    beats = p["seconds"] * p["bpm"] / 60 + 1
    if p["source"] == "instrument":
        notes = midi.melody(
            rng,
            beats=beats,
            register=p["register"],
            scale=p["scale"],
            dynamics=p["dynamics"],
            style=p["style"],
        )
        return midi.fold_into_range(notes, row["class"]), midi.INSTRUMENTS[row["class"]], False
    if p["source"] == "drums":
        return (
            midi.drum_pattern(rng, beats=beats, style=p["style"], dynamics=p["dynamics"]),
            None,
            True,
        )
    if p["source"] == "percussion":
        keys = midi.PERCUSSION[row["class"]]
        return midi.percussion_hits(rng, beats=beats, keys=keys, dynamics=p["dynamics"]), None, True
    program, mode = midi.SOUND_EFFECTS[row["class"]]
    return midi.effect_notes(rng, beats=beats, mode=mode, dynamics=p["dynamics"]), program, False


def _fluidsynth(row: dict[str, Any], tmp: Path, out: Path) -> None:
    notes, program, drums = _midi_notes(row)
    p = row["params"]
    song = tmp / "clip.mid"
    song.write_bytes(midi.smf(notes, program=program, tempo_bpm=p["bpm"], drums=drums))
    raw = tmp / "raw.wav"
    run(["fluidsynth", "-ni", "-q", "-F", str(raw), "-r", str(SAMPLE_RATE), "-g", "0.6",
         str(SOUNDFONT), str(song)])  # fmt: skip
    seconds = p["seconds"]
    _sox_to_corpus(
        raw,
        out,
        ["pad", "0", str(seconds), "trim", "0", str(seconds), "fade", "q", "0.005",
         str(seconds), "0.3"],
        p["level_db"],
    )  # fmt: skip


def _freedesktop(row: dict[str, Any], tmp: Path, out: Path) -> None:
    p = row["params"]
    src = FREEDESKTOP_SOUNDS / p["file"]
    effects = ["speed", f"{p['speed']:.3f}", "pad", "0", f"{p['gap']:.2f}"]
    if p["repeats"] > 1:
        effects += ["repeat", str(p["repeats"] - 1)]
    _sox_to_corpus(src, out, effects, p["level_db"])


def _read(path: Path) -> np.ndarray:
    data, rate = sf.read(str(path), dtype="float32")
    if rate != SAMPLE_RATE or data.ndim != 1:
        raise RuntimeError(f"{path} is not a {SAMPLE_RATE} Hz mono corpus clip")
    return data


def random_window(rng: random.Random, source: np.ndarray, length: int) -> np.ndarray:
    """``source`` cut to ``length`` samples at a random offset, or zero-padded around it."""
    if len(source) >= length:
        start = rng.randrange(len(source) - length + 1)
        return source[start : start + length]
    out = np.zeros(length, dtype=np.float32)
    start = rng.randrange(length - len(source) + 1)
    out[start : start + len(source)] = source
    return out


def mix_sources(windows: list[np.ndarray], snrs_db: list[float], gain: float) -> np.ndarray:
    """Equal-length ``windows`` scaled so the first is ``snrs_db[j - 1]`` dB louder than
    window ``j``, then all together under a :data:`MIX_PEAK` peak of their sum, times
    ``gain``: the sources ``[S, T]`` of a mixture (their sum)."""
    energy0 = float(np.mean(windows[0] ** 2)) + 1e-12
    scaled = [windows[0]]
    for window, snr in zip(windows[1:], snrs_db, strict=True):
        energy = float(np.mean(window**2)) + 1e-12
        scaled.append(window * np.sqrt(energy0 / (energy * 10 ** (snr / 10))))
    sources = np.stack(scaled)  # [S, T]
    peak = float(np.abs(sources.sum(0)).max())
    return sources * (min(1.0, MIX_PEAK / max(peak, 1e-9)) * gain)


def render_mixture(row: dict[str, Any], root: Path) -> None:
    """Mix the member clips at their SNRs; write the scaled sources and then the mixture.

    Source 0 sets the length (at most ``max_seconds``); source ``j`` is scaled so that
    source 0 is ``snr_db`` louder than it. The written sources sum to the mixture.
    """
    p = row["params"]
    rng = random.Random(p["mix_seed"])
    clips = [_read(root / member["member_path"]) for member in row["sources"]]
    length = min(len(clips[0]), int(p["max_seconds"] * SAMPLE_RATE))  # T
    windows = [clips[0][:length]] + [random_window(rng, clip, length) for clip in clips[1:]]
    snrs = [member["snr_db"] for member in row["sources"][1:]]
    sources = mix_sources(windows, snrs, p["gain"])  # [S, T]
    for member, source in zip(row["sources"], sources, strict=True):
        _atomic_wav(root / member["path"], source)
    _atomic_wav(root / row["path"], sources.sum(0))


def _atomic_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.wav")
    sf.write(str(tmp), samples, SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, path)


RENDERERS: dict[str, Callable[[dict[str, Any], Path, Path], None]] = {
    "flite": _speech,
    "festival": _speech,
    "espeak-ng": _speech,
    "fluidsynth": _fluidsynth,
    "freedesktop": _freedesktop,
}


def render_clip(row: dict[str, Any], root: Path) -> None:
    """Render the source clip ``row`` (a manifest row with ``params``) to ``root / path``."""
    final = root / row["path"]
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".render-") as tmp:
        out = Path(tmp) / "out.wav"
        RENDERERS[row["engine"]](row, Path(tmp), out)
        os.replace(out, final)
