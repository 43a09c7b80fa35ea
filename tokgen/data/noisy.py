"""Noisy speech for the speech-enhancement example task (``lm/tasks/enhance.yaml``).

Each speech row of a corpus manifest is mixed with a sound-event clip of the same split at
a random SNR, with the mixture renderer the corpus uses, so the rows are 2-source
mixtures: ``path`` is the noisy clip and ``clean_path`` the (scaled) clean speech, which
is ``sources[0].path``. Deterministic for a seed; finished rows are skipped on a rerun.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import soundfile as sf
from tqdm.auto import tqdm

from tokgen.data.manifest import read_manifest
from tokgen.data.render import render_mixture
from tokgen.errors import InvalidInputError
from tokgen.hub import atomic_write_text

NOISY_DIR = "audio/noisy"


def plan_noisy_speech(
    rows: list[dict[str, Any]], seed: int, snr_db: tuple[float, float] = (0.0, 15.0)
) -> list[dict[str, Any]]:
    """One noisy row per speech row, noise from the same split's sound events."""
    rng = random.Random(seed)
    noise_by_split: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["kind"] == "sound_event":
            noise_by_split.setdefault(row.get("split", ""), []).append(row)
    planned = []
    for row in rows:
        if row["kind"] != "speech":
            continue
        noises = noise_by_split.get(row.get("split", ""))
        if not noises:
            raise InvalidInputError(
                f"no sound_event rows in split {row.get('split')!r} to use as noise."
            )
        noise = rng.choice(noises)
        snr = round(rng.uniform(*snr_db), 1)
        name = f"noisy-{row['id']}"
        base = f"{NOISY_DIR}/{name}"
        planned.append(
            {
                "id": name,
                "kind": "noisy_speech",
                "split": row.get("split"),
                "path": f"{base}.wav",
                "clean_path": f"{base}-s0.wav",
                "sample_rate": row["sample_rate"],
                "transcript": row.get("transcript"),
                "voice": row.get("voice"),
                "class": "noisy speech",
                "params": {"gain": 1.0, "max_seconds": 8.0, "mix_seed": rng.randrange(2**48)},
                "sources": [
                    {
                        "id": row["id"],
                        "member_path": row["path"],
                        "path": f"{base}-s0.wav",
                        "class": "speech",
                        "query": "speech",
                        "snr_db": 0.0,
                    },
                    {
                        "id": noise["id"],
                        "member_path": noise["path"],
                        "path": f"{base}-s1.wav",
                        "class": noise["class"],
                        "query": noise["captions"][0],
                        "snr_db": snr,
                    },
                ],
            }
        )
    return planned


def build_noisy_speech(
    manifest: str | Path, out: str | Path, *, seed: int = 0, limit: int | None = None
) -> Path:
    """Render noisy speech for ``manifest``'s speech rows; write the rows to ``out``
    (a manifest next to ``manifest``: paths are relative to the same corpus folder)."""
    manifest, out = Path(manifest), Path(out)
    if out.parent.resolve() != manifest.parent.resolve():
        raise InvalidInputError(f"{out} must be in the corpus folder {manifest.parent}.")
    root = manifest.parent
    planned = plan_noisy_speech(read_manifest(manifest, purpose="noisy speech"), seed)[:limit]
    for row in tqdm(planned, desc="noisy speech"):
        if not (root / row["path"]).is_file():  # the mixture is written last
            render_mixture(row, root)
        info = sf.info(str(root / row["path"]))
        row["num_samples"], row["duration"] = info.frames, round(info.frames / info.samplerate, 4)
    atomic_write_text(out, "".join(json.dumps(row) + "\n" for row in planned))
    return out
