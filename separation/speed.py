"""Time ``tokgen-sep-small``'s ``generate()`` on the bundled mixture and an 8 s one, with and
without reading the output's ``codes`` (a WORLD analysis of the output, run only when read).

    python separation/speed.py     # medians of 5 calls; run it with nothing else running
"""

from __future__ import annotations

import statistics
import time

import torch

import tokgen
from tokgen.audio import SAMPLE_SPEECH, load

REPEATS = 5


def main() -> None:
    model = tokgen.load("tokgen-sep-small")
    clip = load(SAMPLE_SPEECH.with_name("sample_mixture.wav"), channels=1)
    rate, bundled = clip.sample_rate, clip.samples[0, 0]  # [T]
    long = bundled.repeat(3)[: 8 * rate]  # [T] 8 s
    for name, mixture in [("bundled", bundled), ("8 s", long)]:

        def call(read_codes: bool, mixture: torch.Tensor = mixture) -> float:
            start = time.perf_counter()
            out = model.generate("lass", "speech", audio=(mixture, rate))
            if read_codes:
                out.codes  # noqa: B018 - reading them runs the analysis
            return time.perf_counter() - start

        call(True)  # warm-up
        times = {False: [], True: []}
        for _ in range(REPEATS):
            for read_codes in (False, True):
                times[read_codes].append(call(read_codes))
        seconds = mixture.shape[-1] / rate
        audio, codes = (statistics.median(times[k]) for k in (False, True))
        print(
            f"{name} mixture ({seconds:.1f} s): audio {audio:.3f} s ({seconds / audio:.1f}x real "
            f"time); audio + codes {codes:.3f} s ({seconds / codes:.1f}x)"
        )


if __name__ == "__main__":
    main()
