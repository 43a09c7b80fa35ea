"""Probe (issue 11, real-speech PESQ): does Praat's autocorrelation pitch (parselmouth) fix
DIO's octave errors on recorded speech at DIO's speed?

F0 trackers inside the codec's WORLD analysis (``tokgen.codecs.world_vocoder.track_f0``):
``dio`` (the codec before), ``dio-praat`` (DIO's frames moved up an octave where Praat's
pitch is about twice DIO's: the shipped codec now) and ``harvest``. PESQ-WB of the
unquantized synthesis and of the shipped codebooks' K=9 tokens, on the 8 recorded human
clips and on 40 test synthetic speech clips (every 9th speech row), and the F0 speed.

    OMP_NUM_THREADS=1 python codecs/probes/f0_praat.py   # about 4 min on one core
"""

from __future__ import annotations

import time

import numpy as np
import torch
from postfilter import SR, rows  # this folder is on sys.path when run as a script

from tokgen.codecs import load_codec
from tokgen.codecs.world_vocoder import analyze, track_f0
from tokgen.eval.metrics import pesq_wb


def main() -> None:
    codec = load_codec("tokgen-codec-16k")
    sets = {
        "human (8)": rows("data/real_speech/real_speech.jsonl"),
        "synthetic (40)": rows("data/corpus/test.jsonl", every=9, limit=40),
    }
    print("| tracker | clips | F0 x realtime | PESQ unquantized | PESQ K=9 |")
    print("| :-- | :-- | --: | --: | --: |")
    for tracker in ("dio", "dio-praat", "harvest"):
        for set_name, clips in sets.items():
            spent, seconds, plain, coded = 0.0, 0.0, [], []
            for _, wav in clips:
                x = wav.double().numpy()
                start = time.perf_counter()
                track_f0(x, codec.settings, tracker)
                spent += time.perf_counter() - start
                seconds += len(x) / SR
                frames = -(-len(x) // codec.hop_length)
                padded = np.pad(x, (0, frames * codec.hop_length - len(x)))
                params = analyze(padded, frames, codec.settings, tracker=tracker)
                latent = torch.from_numpy(params.T).float()[None]  # [1, D, F]
                with torch.no_grad():
                    y_plain = codec._decode_chunk(latent)[0, 0, : len(x)]
                    quantized = codec._dequantize(codec._quantize(latent, 9))
                    y_coded = codec._decode_chunk(quantized)[0, 0, : len(x)]
                plain.append(pesq_wb(wav, y_plain, SR))
                coded.append(pesq_wb(wav, y_coded, SR))
            print(
                f"| {tracker} | {set_name} | {seconds / spent:.1f} | {np.nanmean(plain):.3f} "
                f"| {np.nanmean(coded):.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
