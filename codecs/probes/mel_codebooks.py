"""Codebooks on the log-mel spectrum (issue 11): the judge hears 64 mel bands, so code
those, in G groups of N_MELS / G bands with 1,024 entries each, and decode mel -> linear by
the filterbank's pseudo-inverse, then Griffin-Lim; the judge ratio on the test split's music
and sound events. G = N_MELS (one band per codebook) shows the representation's own loss.

    python codecs/probes/mel_codebooks.py N_MELS G [GRIFFIN_LIM_ITERS]   # e.g. 64 16
"""

import sys
import time

import torch
import torchaudio
from spectrum_probe import judge_ratio, training_frames

from tokgen.codecs.fitted import nearest
from tokgen.codecs.spectral_codec import SpectralCodec, SpectralConfig
from tokgen.training.codebook_fit import kmeans

M, G = int(sys.argv[1]), int(sys.argv[2])
GL = int(sys.argv[3]) if len(sys.argv) > 3 else 32
cfg = SpectralConfig(pca_dims=0, n_q=max(G, 1), griffin_lim_iters=GL, name=f"mel{M}x{G}")
fb = torchaudio.functional.melscale_fbanks(
    513, 0.0, 8000.0, M, 16000, norm="slaney", mel_scale="slaney"
)  # [S, M]
pinv = torch.linalg.pinv(fb)  # [M, S]
x = training_frames(1.0)


def to_mel(logmag):  # [..., S] -> [..., M] log mel power
    return ((logmag.exp() ** 2) @ fb + 1e-8).log()


def from_mel(logmel):  # [..., M] -> [..., S] log magnitude
    power = (logmel.exp() @ pinv).clamp_min(1e-10)
    return 0.5 * power.log()


mx = to_mel(x)
mean = mx.mean(0)
groups = [list(range(i * M // G, (i + 1) * M // G)) for i in range(G)] if G else []
books = []
t0 = time.time()
for gi, idx in enumerate(groups):
    books.append(kmeans(mx[:, idx] - mean[idx], 1024, 12, gi).half().float())
print("fit", round(time.time() - t0), "s", flush=True)


class MelQ(SpectralCodec):
    def _encode_chunk(self, wav):  # latent = log-mel [B, M, F]
        return to_mel(self.log_magnitude(wav).transpose(1, 2)).transpose(1, 2)

    def _decode_chunk(self, latent):
        logmag = from_mel(latent.float().transpose(1, 2)).transpose(1, 2)  # [B, S, F]
        return super()._decode_chunk(logmag)  # basis = identity, bin_mean = 0

    def _quantize(self, latent, k):
        v = latent.transpose(1, 2) - mean
        return torch.stack([nearest(v[..., idx], b) for idx, b in zip(groups, books)], 1)

    def _dequantize(self, codes):
        out = mean.expand(codes.shape[0], codes.shape[2], M).clone()
        for j, (idx, b) in enumerate(zip(groups, books)):
            out[..., idx] += b[codes[:, j]]
        return out.transpose(1, 2)


judge_ratio(MelQ(cfg).eval(), f"mels={M} G={G} gl={GL}")
