"""Time ``tokgen-sep-small``'s ``generate()`` on the bundled mixture and an 8 s one, with and
without reading the output's ``codes`` (a WORLD analysis of the output, run only when read).

    python separation/speed.py   # medians of 10 interleaved rounds; nothing else running
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import tokgen
from tokgen.audio import SAMPLE_SPEECH, load
from tokgen.eval.bench import Setting, format_speed_rows, time_rounds

REPEATS = 10


def main() -> None:
    model = tokgen.load("tokgen-sep-small")
    clip = load(SAMPLE_SPEECH.with_name("sample_mixture.wav"), channels=1)
    rate, bundled = clip.sample_rate, clip.samples[0, 0]  # [T]
    long = bundled.repeat(3)[: 8 * rate]  # [T] 8 s

    def separate(mixture: torch.Tensor, read_codes: bool) -> Callable[[], float]:
        def run() -> float:
            out = model.generate("lass", "speech", audio=(mixture, rate))
            if read_codes:
                out.codes  # noqa: B018 - reading them runs the analysis
            return mixture.shape[-1] / rate

        return run

    settings: list[Setting] = [
        (f"{mixture.shape[-1] / rate:.1f} s mixture, {what}", 1, separate(mixture, read_codes))
        for mixture in (bundled, long)
        for what, read_codes in (("audio", False), ("audio + codes", True))
    ]
    for _, _, run in settings:
        run()  # warm-up
    rows = time_rounds(settings, [], REPEATS, reference=settings[0][0])
    print(format_speed_rows(rows, f"tokgen-sep-small: medians of {REPEATS} interleaved rounds"))


if __name__ == "__main__":
    main()
