"""Time every tab of the demo through ``gradio_client``, as a program calling it would.

``python -m demos.latency [--model M] [--codec C] [--rounds 2]`` starts the demo on a free
local port and prints a markdown table: per endpoint, seconds per call (the last round;
the first loads the caption encoder) and seconds of audio made.
"""

from __future__ import annotations

import argparse
import socket
import time

import soundfile as sf
from gradio_client import Client, handle_file

from demos.app import ASSETS, build_demo, launch


def measure(model: str, codec: str | None, rounds: int) -> list[tuple[str, float, float]]:
    """``(endpoint, seconds per call, seconds of audio)`` of the last of ``rounds``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo(model, codec=codec)
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    speech, mixture = str(ASSETS / "sample_speech.wav"), str(ASSETS / "sample_mixture.wav")
    calls = {
        "/tts": ("The weather is lovely today.", handle_file(speech)),
        "/tta": ("a dog barking",),
        "/lass": ("a vibraphone playing", handle_file(mixture)),
        "/continuation": (handle_file(speech),),
        "/codec": (handle_file(speech),),
    }
    rows = []
    try:
        for _ in range(rounds):
            rows = []
            for name, args in calls.items():
                start = time.perf_counter()
                result = client.predict(*args, api_name=name)
                rows.append((name, time.perf_counter() - start, sf.info(result[0]).duration))
    finally:
        demo.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="tokgen-small")
    parser.add_argument("--codec", default="tokgen-codec-16k")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print("| tab (endpoint) | seconds per call | seconds of audio |\n| --- | --: | --: |")
    for name, seconds, audio in measure(args.model, args.codec, args.rounds):
        print(f"| `{name}` | {seconds:.2f} | {audio:.2f} |")


if __name__ == "__main__":
    main()
