"""Probe (issue 12, separation): which mask turns a decoded source into the best cut of
the mixture? The ceiling setting: each test mixture's true sources passed through a codec,
then masked onto the mixture (``tokgen.decoders.apply_mask``); SI-SDR improvement over
the mixture, mean over all sources of the 21 test mixtures.

    OMP_NUM_THREADS=1 python codecs/probes/mask_kind.py   # about 3 min on one core
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tokgen.codecs import load_codec
from tokgen.decoders import apply_mask
from tokgen.eval.judge import load_mono
from tokgen.eval.metrics import si_sdr

SR = 16_000


def main() -> None:
    root = Path("data/corpus")
    rows = [json.loads(line) for line in (root / "test.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] == "mixture"]
    codecs = {name: load_codec(name) for name in ("tokgen-codec-16k", "tokgen-codec-16k-seanet")}
    settings = [(kind, n_fft) for kind in ("ratio", "wiener") for n_fft in (512, 1024)]
    scores: dict[tuple[str, str, int], list[float]] = {}
    for row in rows:
        mixture = load_mono(root / row["path"], SR)
        for source in row["sources"]:
            truth = load_mono(root / source["path"], SR)
            mix = torch.nn.functional.pad(mixture, (0, max(0, len(truth) - len(mixture))))
            mix = mix[: len(truth)]
            base = si_sdr(truth, mix)
            estimates = {"ideal (true source)": truth}
            for name, codec in codecs.items():
                coded = codec.decode(codec.encode(truth, SR), length=len(truth))[0, 0]
                estimates[name] = coded
            for name, estimate in estimates.items():
                for kind, n_fft in settings:
                    out = apply_mask(estimate[None], mix[None], n_fft=n_fft, kind=kind)[0]
                    scores.setdefault((name, kind, n_fft), []).append(si_sdr(truth, out) - base)
    print("| source estimate | mask | n_fft | SI-SDR improvement, dB |")
    print("| :-- | :-- | --: | --: |")
    for (name, kind, n_fft), values in scores.items():
        print(f"| {name} | {kind} | {n_fft} | {sum(values) / len(values):.2f} |")


if __name__ == "__main__":
    main()
