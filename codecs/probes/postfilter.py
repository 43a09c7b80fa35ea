"""Probe (issue 11, real-speech PESQ): can a decode-side correction of the quantized
envelope win back what the codebooks cost, without touching the tokens?

Variants, all on the shipped ``tokgen-codec-16k`` tokens (K=9):
* ``cepstral beta``: the coded envelope's shape dimensions (1..39) scaled by beta about
  their value (formant sharpening, the classic statistical-parametric post-filter);
* ``global variance``: each residual dimension's deviation from the train mean scaled by
  std(unquantized) / std(quantized), both measured on the codec's own fitting features
  (``runs/codec-v2/features``: train split only).

Prints PESQ-WB / STOI on the 8 recorded human clips and on 40 test-split synthetic speech
clips (flite/festival/espeak-ng, every 9th row).

    OMP_NUM_THREADS=1 python codecs/probes/postfilter.py   # about 4 min on one core
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import torch

from tokgen.codecs import load_codec
from tokgen.eval.judge import load_mono
from tokgen.eval.metrics import pesq_wb, stoi

SR = 16_000


def rows(manifest: str, every: int = 1, limit: int = 1000) -> list[tuple[Path, torch.Tensor]]:
    root = Path(manifest).parent
    items = [json.loads(line) for line in Path(manifest).read_text().splitlines()]
    items = [r for r in items if r["kind"] == "speech"][::every][:limit]
    return [(root / r["path"], load_mono(root / r["path"], SR)) for r in items]


def gv_ratio(codec, parts: str = "runs/codec-v2/features/part-0000[0-3].npy") -> torch.Tensor:
    """std(unquantized) / std(quantized) of each residual dimension on train frames."""
    frames = np.concatenate([np.load(p) for p in sorted(glob.glob(parts))])[::4]
    latent = torch.from_numpy(frames).float()  # [N, 47] (no second pitch in these features)
    pad = torch.zeros(len(latent), codec.pitch_dims - 2)
    latent = torch.cat([latent[:, :2], pad, latent[:, 2:]], 1).T[None]  # [1, D, N]
    codes = codec._quantize(latent, codec.max_codebooks)
    quant = codec._dequantize(codes)
    p = codec.pitch_dims
    return latent[0, p:].std(1) / quant[0, p:].std(1).clamp(min=1e-6)  # [R]


def variants(codec) -> dict:
    p, dims = codec.pitch_dims, codec.settings.envelope_dims
    ratio = gv_ratio(codec)

    def beta(b):
        def apply(lat):
            lat = lat.clone()
            lat[:, p + 1 : p + dims] *= b
            return lat

        return apply

    def gv(lat, scale=ratio):
        lat = lat.clone()
        mean = lat[:, p:].mean(-1, keepdim=True)
        lat[:, p:] = mean + (lat[:, p:] - mean) * scale[None, :, None]
        return lat

    def gv_env(lat):
        scale = ratio.clone()
        scale[dims:] = 1.0
        return gv(lat, scale)

    return {
        "as shipped": lambda lat: lat,
        "cepstral beta 1.1": beta(1.1),
        "cepstral beta 1.2": beta(1.2),
        "cepstral beta 1.3": beta(1.3),
        "global variance": gv,
        "global variance, envelope only": gv_env,
    }


def main() -> None:
    torch.manual_seed(0)
    codec = load_codec("tokgen-codec-16k")
    sets = {
        "human (8)": rows("data/real_speech/real_speech.jsonl"),
        "synthetic test (40)": rows("data/corpus/test.jsonl", every=9, limit=40),
    }
    table = variants(codec)
    print(f"{'variant':<32}" + "".join(f" | {name:>24}" for name in sets))
    results = {name: {} for name in table}
    for set_name, clips in sets.items():
        for _, wav in clips:
            x = wav[None, None]
            with torch.no_grad():
                latent = codec._dequantize(codec.encode(x, sample_rate=SR))
                for name, fix in table.items():
                    y = codec._decode_chunk(fix(latent))[0, 0, : x.shape[-1]]
                    scores = results[name].setdefault(set_name, [])
                    scores.append((pesq_wb(wav, y, SR), stoi(wav, y, SR)))
    for name in table:
        cells = []
        for set_name in sets:
            s = np.array(results[name][set_name])
            cells.append(f"PESQ {np.nanmean(s[:, 0]):.3f} STOI {np.nanmean(s[:, 1]):.3f}")
        print(f"{name:<32}" + "".join(f" | {c:>24}" for c in cells))


if __name__ == "__main__":
    main()
