"""``tokgen data real-speech``: a small manifest of natural human speech for held-out checks.

The corpus' speech is synthetic (flite, festival, espeak-ng). The only recorded human voice
Debian ships in our tool set is the eight channel announcements of
``sound-theme-freedesktop`` ("front left", ...). They are written as 16 kHz mono WAV files
with their transcripts (``engine: human``), so ``tokgen eval codec`` scores them for
STOI, PESQ-WB and WER. ``tokgen fit codec`` never fits on this voice (the corpus' variants
of these recordings, class ``spoken announcement``, are left out of the fit).
"""

from __future__ import annotations

import json
from pathlib import Path

from tokgen import audio as audio_io
from tokgen.data.system_tools import FREEDESKTOP_SOUNDS, require
from tokgen.hub import atomic_write_text

HUMAN_CLASS = "spoken announcement"
CHANNELS = (
    "front-center", "front-left", "front-right", "rear-center", "rear-left", "rear-right",
    "side-left", "side-right",
)  # fmt: skip
SAMPLE_RATE = 16_000


def build_real_speech(out: str | Path) -> Path:
    """Write ``out/audio/*.wav`` and ``out/real_speech.jsonl``; returns the manifest."""
    require(["sound-theme-freedesktop"])
    out = Path(out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for channel in CHANNELS:
        clip = audio_io.load(
            FREEDESKTOP_SOUNDS / f"audio-channel-{channel}.oga",
            target_sample_rate=SAMPLE_RATE,
            channels=1,
        )
        path = Path("audio") / f"{channel}.wav"
        audio_io.save(out / path, clip.samples[0], SAMPLE_RATE)
        rows.append(
            {
                "id": f"human-{channel}",
                "path": str(path),
                "kind": "speech",
                "engine": "human",
                "voice": "freedesktop-announcer",
                "class": "speech",
                "transcript": channel.replace("-", " "),
                "duration": round(clip.duration, 3),
                "sample_rate": SAMPLE_RATE,
            }
        )
    manifest = out / "real_speech.jsonl"
    atomic_write_text(manifest, "".join(json.dumps(row) + "\n" for row in rows))
    return manifest
