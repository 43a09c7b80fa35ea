"""Quick codec probe: wide-band PESQ of a few flite/festival test sentences, decoded from the
continuous latent and from K = 8, 4 and 1 codebooks. A decoder that scores the same at K = 1
and K = 8 does not use its bits. Used for the development notes in codecs/README.md.

    python scripts/codec_probe.py CODEC_DIR [--manifest data/corpus/test.jsonl] [--count 8]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from pesq import pesq

from tokgen import audio as audio_io
from tokgen import load_codec


def probe_sentences(manifest: Path, count: int) -> list[torch.Tensor]:
    """Every 20th flite/festival sentence of ``manifest``, ``count`` of them: ``[1, 1, T]``."""
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    rows = [
        r for r in rows if r["kind"] == "speech" and r["voice"].startswith(("flite", "festival"))
    ]
    return [
        audio_io.load(manifest.parent / r["path"], target_sample_rate=16_000, channels=1).samples
        for r in rows[::20][:count]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("codec")
    parser.add_argument("--manifest", default="data/corpus/test.jsonl")
    parser.add_argument(
        "--count", type=int, default=8, help="sentences: every 20th, from the first"
    )
    args = parser.parse_args()
    codec = load_codec(args.codec).eval()
    scores: dict[str, list[float]] = {"continuous": [], "K=8": [], "K=4": [], "K=1": []}
    for wav in probe_sentences(Path(args.manifest), args.count):
        ref = wav[0, 0].numpy()
        with torch.no_grad():
            decoded = {"continuous": codec.decode_latent(codec.encode_latent(wav, 16_000))}
            for k in (8, 4, 1):
                decoded[f"K={k}"] = codec.decode(codec.encode(wav, 16_000, num_codebooks=k))
        for name, out in decoded.items():
            scores[name].append(pesq(16_000, ref, out[0, 0, : len(ref)].numpy(), "wb"))
    print(args.codec, " ".join(f"{k} {np.mean(v):.3f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
