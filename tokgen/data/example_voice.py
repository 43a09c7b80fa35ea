"""A small speech dataset in the LJSpeech layout, spoken by a voice that ``tokgen-small``
never trained on (the corpus' held-out flite ``awb`` by default): the fixture of the
README's fine-tuning example, standing in for a user's own recordings.

``DIR/metadata.csv`` holds ``id|text|text`` lines and ``DIR/wavs/ID.wav`` the clips (16 kHz
mono). Deterministic for a seed; a rerun keeps the clips already rendered.
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

from tqdm.auto import tqdm

from tokgen.data.render import render_clip
from tokgen.data.sentences import unique_sentences
from tokgen.data.voices import VOICE_BY_ID
from tokgen.errors import InvalidInputError

LEVEL_DB = -3.0


def make_example_voice(
    out: str | os.PathLike,
    *,
    voice: str = "flite-awb",
    clips: int = 120,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Render ``clips`` sentences in ``voice`` into ``out`` (LJSpeech layout); returns
    ``out / "metadata.csv"``."""
    if voice not in VOICE_BY_ID:
        raise InvalidInputError(
            f"unknown voice {voice!r}; the corpus voices: {sorted(VOICE_BY_ID)}."
        )
    if clips < 2:
        raise InvalidInputError(f"clips must be at least 2, got {clips}.")
    root = Path(out)
    stamp, made_by = root / ".example-voice", f"voice={voice} seed={seed}\n"
    if stamp.is_file() and stamp.read_text() != made_by:
        raise InvalidInputError(
            f"{root} was made with {stamp.read_text().strip()}, not {made_by.strip()}: "
            "use another folder (or delete this one)."
        )
    root.mkdir(parents=True, exist_ok=True)
    stamp.write_text(made_by)
    texts = list(itertools.islice(unique_sentences(random.Random(seed), set()), clips))
    lines = []
    for i, text in enumerate(tqdm(texts, desc="render", unit="clip", disable=not progress)):
        clip_id = f"EV{i:04d}"
        row = {
            "engine": VOICE_BY_ID[voice].engine,
            "voice": voice,
            "transcript": text,
            "path": f"wavs/{clip_id}.wav",
            "params": {"level_db": LEVEL_DB},
        }
        if not (root / row["path"]).is_file():
            render_clip(row, root)
        lines.append(f"{clip_id}|{text}|{text}\n")
    metadata = root / "metadata.csv"
    tmp = metadata.with_suffix(".partial")
    tmp.write_text("".join(lines))
    os.replace(tmp, metadata)
    return metadata
