"""Sub-band codebooks for the fine-spectrum codec (issue 11): the 513-bin log STFT magnitude
split into G mel-spaced bands, each coded by S residual k-means stages of 1,024 (G x S
codebooks), decoded by Griffin-Lim; the judge ratio on the test split's music and sound
events. With a 4th argument N, the decoder adds N times each entry's residual spread as
seeded noise (noise filling).

    python codecs/probes/subband_codebooks.py G S [HOURS [NOISE]]   # e.g. 16 1 1.0
"""

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch
from spectrum_probe import judge_ratio, training_frames

from tokgen.codecs.fitted import nearest
from tokgen.codecs.spectral_codec import SpectralCodec, SpectralConfig
from tokgen.training.codebook_fit import kmeans

G, S = int(sys.argv[1]), int(sys.argv[2])
HOURS = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
cfg = SpectralConfig(pca_dims=0, n_q=G * S, name=f"subband{G}x{S}")
x = training_frames(HOURS)
S_BINS = x.shape[1]
# mel-spaced band edges over bins
hz = np.linspace(0, 8000, S_BINS)
mel = 2595 * np.log10(1 + hz / 700)
edges = np.searchsorted(mel, np.linspace(0, mel[-1], G + 1)[1:-1])
edges = [0, *[int(e) for e in edges], S_BINS]
bands = [(a, b) for a, b in itertools.pairwise(edges)]
print("bands", [b - a for a, b in bands], flush=True)
mean = x.mean(0)
books = []  # books[g][s] -> [1024, width]
t0 = time.time()
cache = Path(f"runs/probe-subband-{G}x{S}-{HOURS}h.pt")
if cache.exists():
    books = torch.load(cache)
else:
    for gi, (a, b) in enumerate(bands):
        r = x[:, a:b] - mean[a:b]
        bb = []
        for s in range(S):
            c = kmeans(r, 1024, 12, 100 * gi + s).half().float()
            r = r - c[nearest(r, c)]
            bb.append(c)
        books.append(bb)
        print("band", gi, "done", round(time.time() - t0), "s", flush=True)
    torch.save(books, cache)

NOISE = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
# per-centroid residual std of each band's last stage, for noise filling
stds = []
for gi, (a, b) in enumerate(bands):
    r = x[:, a:b] - mean[a:b]
    for c in books[gi]:
        idx = nearest(r, c)
        r = r - c[idx]
    sq = torch.zeros(1024, b - a).index_add_(0, idx, r * r)
    n = torch.bincount(idx, minlength=1024).clamp(min=1)
    stds.append((sq / n[:, None]).sqrt())


class SubBand(SpectralCodec):
    def _quantize(self, latent, num_codebooks):
        v = latent.transpose(1, 2) - mean  # [B, F, S]
        codes = []
        for gi, (a, b) in enumerate(bands):
            r = v[..., a:b]
            for c in books[gi]:
                rows_ = nearest(r, c)
                r = r - c[rows_]
                codes.append(rows_)
        return torch.stack(codes, 1)

    def _dequantize(self, codes):
        out = mean.expand(codes.shape[0], codes.shape[2], S_BINS).clone()
        k = 0
        for gi, (a, b) in enumerate(bands):
            for c in books[gi]:
                out[..., a:b] += c[codes[:, k]]
                k += 1
            if NOISE:
                gen = torch.Generator().manual_seed(0)
                out[..., a:b] += (
                    NOISE
                    * stds[gi][codes[:, k - 1]]
                    * torch.randn(out[..., a:b].shape, generator=gen)
                )
        return out.transpose(1, 2)


judge_ratio(SubBand(cfg).eval(), f"noise={NOISE} G={G} S={S} K={G * S}")
