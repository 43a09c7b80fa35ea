"""Phone durations of recorded speech: flite's timed phones moved onto the clip by DTW.

The duration TTS (:mod:`tokgen.tts`) learns frames from phones whose durations it is given,
so each training clip needs its phones' durations in frames. flite says the transcript in
its own voice and reports when each phone ends; dynamic time warping of MFCCs (cepstral
means and variances normalized per clip, so voices compare) maps those ends onto the clip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tokgen.text.phones import SAMPLE_RATE, flite_speak

HOP = 320  # 50 Hz frames, the codec's grid


@dataclass(frozen=True)
class Alignment:
    """Phone ids ``[P]`` and their durations in frames ``[P]``, summing to the clip's frames."""

    ids: list[int]
    durations: list[int]


def mfcc_frames(wav: np.ndarray, frames: int) -> np.ndarray:
    """MFCCs 1-20 ``[frames, 20]`` on the 50 Hz grid, normalized per clip."""
    import librosa

    mfcc = librosa.feature.mfcc(
        y=wav.astype(np.float32), sr=SAMPLE_RATE, n_mfcc=21, n_fft=1024, hop_length=HOP
    )[1:, :frames].T
    if len(mfcc) < frames:
        mfcc = np.pad(mfcc, ((0, frames - len(mfcc)), (0, 0)), mode="edge")
    return (mfcc - mfcc.mean(0)) / (mfcc.std(0) + 1e-5)


def align(wav: np.ndarray, text: str, frames: int) -> Alignment:
    """Durations of ``text``'s phones in ``wav`` ``[T]`` (16 kHz) over ``frames`` frames."""
    import librosa

    sequence, ref = flite_speak(text)
    ref_frames = -(-len(ref) // HOP)
    _, path = librosa.sequence.dtw(
        X=mfcc_frames(ref, ref_frames).T, Y=mfcc_frames(wav, frames).T, metric="euclidean"
    )
    first = np.full(ref_frames, frames, dtype=np.int64)  # first clip frame of each ref frame
    np.minimum.at(first, path[:, 0], path[:, 1])
    ends = [round(end * SAMPLE_RATE / HOP) for end in sequence.ends[:-1]]
    bounds = [0] + [int(first[min(e, ref_frames - 1)]) for e in ends] + [frames]
    bounds = np.maximum.accumulate(np.clip(bounds, 0, frames))
    return Alignment(sequence.ids, np.diff(bounds).astype(int).tolist())


def align_manifest(manifest: str | Path, out: str | Path, *, limit: int | None = None) -> int:
    """Align every speech row of ``manifest`` into the JSONL ``out``: one line per clip,
    ``{"id", "frames", "ids", "durations"}``. Rows already in ``out`` are skipped, so a rerun
    resumes; a half-written last line (a killed run) is dropped. Returns the rows written."""
    from tqdm import tqdm

    from tokgen.audio import load
    from tokgen.data.manifest import read_manifest

    manifest, out = Path(manifest), Path(out)
    rows = [
        r
        for r in read_manifest(manifest, purpose="align")
        if r.get("kind", "speech") == "speech" and isinstance(r.get("transcript"), str)
    ][:limit]
    done: set[str] = set()
    if out.exists():
        lines = out.read_text().splitlines(keepends=True)
        complete = [line for line in lines if line.endswith("\n")]
        out.write_text("".join(complete))
        done = {json.loads(line)["id"] for line in complete}
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with out.open("a") as f:
        for row in tqdm([r for r in rows if r["id"] not in done], desc="align", unit="clip"):
            wav = load(manifest.parent / row["path"], target_sample_rate=SAMPLE_RATE, channels=1)
            samples = wav.samples[0, 0].numpy()
            frames = -(-len(samples) // HOP)
            a = align(samples, row["transcript"], frames)
            record = {"id": row["id"], "frames": frames, "ids": a.ids, "durations": a.durations}
            f.write(json.dumps(record) + "\n")
            f.flush()
            written += 1
    return written


def read_alignments(path: str | Path) -> dict[str, Alignment]:
    """``align_manifest``'s JSONL as ``{id: Alignment}``."""
    table = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            table[row["id"]] = Alignment(row["ids"], row["durations"])
    return table
