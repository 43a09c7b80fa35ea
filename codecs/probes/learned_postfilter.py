"""Issue 11's untried option: a small learned post-filter on the default codec's output for
music and sound events, trained on CPU in under an hour. Does it bring the judge ratio
(decoded / original class accuracy) from 0.38 towards 0.9?

The default codec (WORLD, 9 codebooks) decodes a clip; the post-filter reads the decoded
audio's log STFT magnitudes (1,024-point Hann, 20 ms hop: the spectral codec's frames) and
predicts the original's, as a residual, with a few 1-D convolutions over time; the audio
is then rebuilt by Griffin-Lim started from the decoded audio's phase. Trained with L1 on
pairs made from the train split's music and sound events; scored on the test split's.

    python codecs/probes/learned_postfilter.py pairs --hours 0.5 --out runs/postfilter
    python codecs/probes/learned_postfilter.py train --out runs/postfilter --minutes 40
    python codecs/probes/learned_postfilter.py score --out runs/postfilter

`--codec C` (any codec name or folder, given to each step) post-filters another codec.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional
from tqdm.auto import tqdm

import tokgen
from tokgen.audio import load
from tokgen.data.manifest import read_manifest
from tokgen.eval.judge import load_judge

N_FFT, HOP, FLOOR = 1024, 320, 1e-4
WINDOW = torch.hann_window(N_FFT)
KINDS = ("music", "sound_event")


def stft(wav: torch.Tensor) -> torch.Tensor:
    """``[T]`` -> complex ``[S, F]``."""
    return torch.stft(wav, N_FFT, HOP, window=WINDOW, return_complex=True)


def log_magnitude(spec: torch.Tensor) -> torch.Tensor:
    return spec.abs().add(FLOOR).log()


def rows(split: str) -> list[dict]:
    manifest = Path("data/corpus") / f"{split}.jsonl"
    out = [r for r in read_manifest(manifest) if r.get("kind") in KINDS]
    for r in out:
        r["path"] = str(manifest.parent / r["path"])
    return out


def decoded(codec, wav: torch.Tensor) -> torch.Tensor:
    """The codec's round trip of ``wav [T]``."""
    return codec.decode(codec.encode(wav[None, None], 16_000), length=wav.shape[0])[0, 0]


def make_pairs(hours: float, out: Path, codec_name: str) -> None:
    codec = tokgen.load_codec(codec_name)
    chosen, total = [], 0.0
    todo = rows("train")
    random.Random(0).shuffle(todo)
    for r in todo:
        if total >= hours * 3600:
            break
        chosen.append(r)
        total += float(r["duration"])
    pairs = []
    for r in tqdm(chosen, desc="pairs"):
        wav = load(r["path"], target_sample_rate=16_000, channels=1).samples[0, 0]
        pairs.append((log_magnitude(stft(decoded(codec, wav))).half(),
                      log_magnitude(stft(wav)).half()))  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    torch.save(pairs, out / "pairs.pt")


class PostFilter(nn.Module):
    """Log magnitudes of the decoded audio ``[B, S, F]`` -> the original's (a residual)."""

    def __init__(self, bins: int = N_FFT // 2 + 1, width: int = 256, layers: int = 4) -> None:
        super().__init__()
        self.inp = nn.Conv1d(bins, width, 3, padding=1)
        self.body = nn.ModuleList(
            nn.Conv1d(width, width, 3, padding=2**i, dilation=2**i) for i in range(layers)
        )
        self.out = nn.Conv1d(width, bins, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = functional.gelu(self.inp((x + 4.0) / 4.0))
        for conv in self.body:
            h = h + functional.gelu(conv(h))
        return x + self.out(h)


def train(out: Path, minutes: float, crop: int = 64, batch: int = 16) -> None:
    torch.manual_seed(0)
    pairs = [(a.float(), b.float()) for a, b in torch.load(out / "pairs.pt")]
    pairs = [p for p in pairs if p[0].shape[-1] > crop]
    net = PostFilter()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    rng = random.Random(0)
    start, step, log = time.time(), 0, []
    while time.time() - start < minutes * 60:
        xs, ys = [], []
        for _ in range(batch):
            x, y = rng.choice(pairs)
            i = rng.randrange(0, x.shape[-1] - crop)
            xs.append(x[:, i : i + crop])
            ys.append(y[:, i : i + crop])
        x, y = torch.stack(xs), torch.stack(ys)
        loss = functional.l1_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            base = functional.l1_loss(x, y).item()
            log.append({"step": step, "loss": loss.item(), "identity": base})
            print(log[-1], round(time.time() - start), "s", flush=True)
            torch.save({"state": net.state_dict(), "log": log}, out / "postfilter.pt")
    torch.save({"state": net.state_dict(), "log": log}, out / "postfilter.pt")


def rebuild(log_mag: torch.Tensor, phase_from: torch.Tensor, length: int, iters: int = 32):
    """Audio ``[T]`` with magnitudes ``exp(log_mag) - floor`` by Griffin-Lim from the phase of
    ``phase_from [S, F]``."""
    magnitude = log_mag.exp().sub(FLOOR).clamp_min(0)
    angle = phase_from / phase_from.abs().clamp_min(1e-8)
    for _ in range(iters):
        wav = torch.istft(magnitude * angle, N_FFT, HOP, window=WINDOW, length=length)
        spec = stft(wav)
        angle = spec / spec.abs().clamp_min(1e-8)
    return torch.istft(magnitude * angle, N_FFT, HOP, window=WINDOW, length=length)


@torch.inference_mode()
def score(out: Path, codec_name: str) -> dict:
    codec = tokgen.load_codec(codec_name)
    net = PostFilter()
    net.load_state_dict(torch.load(out / "postfilter.pt")["state"])
    net.eval()
    judge = load_judge()
    right = {"original": 0, "codec": 0, "codec + post-filter": 0, "codec, Griffin-Lim only": 0}
    items = rows("test")
    for r in tqdm(items, desc="score"):
        wav = load(r["path"], target_sample_rate=16_000, channels=1).samples[0, 0]
        dec = decoded(codec, wav)
        spec = stft(dec)
        fixed = rebuild(net(log_magnitude(spec)[None])[0], spec, wav.shape[0])
        plain = rebuild(log_magnitude(spec), spec, wav.shape[0])
        classes = judge.judge([wav, dec, fixed, plain])[0]
        for name, c in zip(right, classes):
            right[name] += c == r["class"]
    result = {name: count / len(items) for name, count in right.items()}
    result["items"] = len(items)
    for name in ("codec", "codec + post-filter", "codec, Griffin-Lim only"):
        result[f"ratio {name}"] = result[name] / result["original"]
    (out / "score.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("pairs", "train", "score"))
    parser.add_argument("--out", default="runs/postfilter")
    parser.add_argument("--hours", type=float, default=0.5)
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--codec", default="tokgen-codec-16k", help="the codec to post-filter")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    if args.command == "pairs":
        make_pairs(args.hours, out, args.codec)
    elif args.command == "train":
        train(out, args.minutes)
    else:
        print(json.dumps(score(out, args.codec), indent=1))
