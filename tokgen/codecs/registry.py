"""Named codecs and :func:`load_codec`.

``load_codec(name)`` resolves, in order: a local checkpoint directory; a codec shipped in
``tokgen/pretrained/``; an official codec whose weights are in the user cache or are
fetched by the explicit, hash-checked :func:`download_codec`; ``pretrained=False`` builds
any named architecture with random weights instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tokgen import hub
from tokgen.codecs.base import Codec
from tokgen.codecs.dac_codec import DACCodec, DACConfig
from tokgen.codecs.encodec_codec import EncodecCodec, EncodecConfig
from tokgen.codecs.parametric_codec import ParametricCodec, ParametricConfig
from tokgen.codecs.spectral_codec import SpectralCodec, SpectralConfig
from tokgen.errors import ConfigError, InvalidInputError, PretrainedNotFoundError

PRETRAINED_DIR = hub.PRETRAINED_DIR  # a module global, so tests can point it elsewhere

BACKENDS: dict[str, tuple[type, type[Codec]]] = {
    "encodec": (EncodecConfig, EncodecCodec),
    "dac": (DACConfig, DACCodec),
    "parametric": (ParametricConfig, ParametricCodec),
    "spectral": (SpectralConfig, SpectralCodec),
}


@dataclass(frozen=True)
class RemoteWeights:
    """A pinned official checkpoint: immutable URL and SHA-256 (or published prefix)."""

    url: str
    sha256: str | None
    convert: Callable[[Any], dict[str, torch.Tensor]]  # loaded object -> our state dict


@dataclass(frozen=True)
class NamedCodec:
    config: Any
    default_bandwidth: float | None = None  # kbps; None: all codebooks
    remote: RemoteWeights | None = None
    random_seed: int | None = None  # "pretrained" weights are this seeded random init


def _encodec_state(obj: Any) -> dict[str, torch.Tensor]:
    return obj  # EncodecModel state dict; our module names match


def _dac_state(obj: Any) -> dict[str, torch.Tensor]:
    return {f"model.{key}": value for key, value in obj["state_dict"].items()}


_ENCODEC_URL = "https://dl.fbaipublicfiles.com/encodec/v0/"
_DAC_URL = "https://github.com/descriptinc/descript-audio-codec/releases/download/"


def _dac(name: str, sample_rate: int, n_codebooks: int, release_file: str) -> NamedCodec:
    """An official 16/24 kHz DAC: hop 320 (strides 2, 4, 5, 8); weights from a pinned release.

    Descript publishes no checksums for these files, so none is checked (see README).
    """
    config = DACConfig(
        name=name,
        sample_rate=sample_rate,
        encoder_rates=[2, 4, 5, 8],
        decoder_rates=[8, 5, 4, 2],
        n_codebooks=n_codebooks,
    )
    return NamedCodec(config, remote=RemoteWeights(_DAC_URL + release_file, None, _dac_state))


# The learned SEANet/Vocos codec (issue 3): trainable with codecs/*.yaml on an accelerator;
# the shipped tokgen-small v1 speaks its tokens.
TOKGEN_CODEC_16K_SEANET = EncodecConfig(
    name="tokgen-codec-16k-seanet",
    sample_rate=16_000,
    n_filters=16,  # 32 runs at 14x real time on 2 cores; 16 at 36x (issue 3)
    ratios=[8, 5, 4, 2],  # hop 320: 50 Hz frames
    dimension=128,
    n_q=8,
    bins=1024,
    decoder="vocos",  # STFT magnitudes at 50 Hz, phase by Griffin-Lim (codecs/README.md)
    decoder_dim=384,
    decoder_layers=8,
    decoder_phase="griffin_lim",
    decoder_griffin_lim_iters=16,  # PESQ 1.313 vs 1.323 at 32 (8 sentences), 1.6x faster decode
)

CODECS: dict[str, NamedCodec] = {
    # the default: pitch-explicit WORLD parameters + fitted codebooks (`tokgen fit codec`)
    "tokgen-codec-16k": NamedCodec(
        ParametricConfig(name="tokgen-codec-16k", n_q=9, second_pitch=True)
    ),
    "tokgen-codec-16k-seanet": NamedCodec(TOKGEN_CODEC_16K_SEANET),
    # log STFT magnitudes + Griffin-Lim: the fine-spectrum latent (96 principal components)
    "tokgen-codec-16k-spectral": NamedCodec(SpectralConfig(pca_dims=96)),
    "tokgen-codec-debug": NamedCodec(
        EncodecConfig(name="tokgen-codec-debug", n_filters=4, dimension=16, n_q=4, bins=64),
        random_seed=0,
    ),
    "encodec_24khz": NamedCodec(
        EncodecConfig(
            name="encodec_24khz", sample_rate=24_000, lstm=2, causal=True, n_q=32, kmeans_init=False
        ),
        default_bandwidth=6.0,
        remote=RemoteWeights(
            _ENCODEC_URL + "encodec_24khz-d7cc33bc.th", "d7cc33bc", _encodec_state
        ),
    ),
    "encodec_48khz": NamedCodec(
        EncodecConfig(
            name="encodec_48khz",
            sample_rate=48_000,
            channels=2,
            lstm=2,
            norm="time_group_norm",
            n_q=16,
            kmeans_init=False,
        ),
        default_bandwidth=6.0,
        remote=RemoteWeights(
            _ENCODEC_URL + "encodec_48khz-7e698e3e.th", "7e698e3e", _encodec_state
        ),
    ),
    "dac_16khz": _dac("dac_16khz", 16_000, 12, "0.0.5/weights_16khz.pth"),
    "dac_24khz": _dac("dac_24khz", 24_000, 32, "0.0.4/weights_24khz.pth"),
    "dac_44khz": NamedCodec(
        DACConfig(name="dac_44khz"),
        remote=RemoteWeights(_DAC_URL + "0.0.1/weights.pth", None, _dac_state),
    ),
}


def available_codecs() -> list[str]:
    """Names :func:`load_codec` accepts (besides local directories)."""
    return sorted(CODECS)


def codec_config(name: str) -> Any:
    """The architecture config of the codec named ``name`` (to build an untrained one)."""
    if name not in CODECS:
        raise ConfigError(f"codec {name!r} is not a known codec name; use one of {sorted(CODECS)}.")
    return CODECS[name].config


def build_codec(config: dict[str, Any] | Any, *, source: str = "config") -> Codec:
    """Build a randomly initialised codec from a config dataclass or dict (with ``backend``)."""
    if not isinstance(config, dict):
        config = hub.config_to_dict(config)
    backend = config.get("backend")
    if backend not in BACKENDS:
        raise ConfigError(f"{source}: backend must be one of {sorted(BACKENDS)}, got {backend!r}.")
    config_cls, codec_cls = BACKENDS[backend]
    return codec_cls(hub.config_from_dict(config_cls, config, source=source))


def load_codec(
    name_or_path: str | os.PathLike = "tokgen-codec-16k",
    *,
    pretrained: bool = True,
    num_codebooks: int | None = None,
    bandwidth: float | None = None,
    device: str | torch.device | None = None,
) -> Codec:
    """Load a codec by name (see :func:`available_codecs`) or from a checkpoint directory.

    Args:
        name_or_path: a codec name or a directory holding config.json + model.safetensors.
        pretrained: False builds the named architecture with random weights (no files).
        num_codebooks / bandwidth: default codebooks ``encode`` emits (one or the other).
        device: where to put the model (default CPU).

    Official EnCodec/DAC weights are downloaded on first use into :func:`tokgen.hub.cache_dir`
    (pinned URL, SHA-256 checked); offline this fails within seconds with
    :class:`~tokgen.errors.DownloadError` saying where to place the file by hand.
    """
    path = Path(name_or_path)
    key = str(name_or_path)
    if key in CODECS:
        codec = _load_named(key, pretrained)
    elif path.is_dir():
        codec = _from_checkpoint(path)
    else:
        raise InvalidInputError(
            f"unknown codec {key!r}: not a directory and not one of {available_codecs()}."
        )
    if num_codebooks is not None and bandwidth is not None:
        raise InvalidInputError("pass num_codebooks or bandwidth, not both.")
    if num_codebooks is not None:
        codec.set_num_codebooks(num_codebooks)
    if bandwidth is not None:
        codec.set_bandwidth(bandwidth)
    return codec.eval().to(device or "cpu")


def download_codec(name: str) -> Path:
    """Fetch the official weights of ``name`` into the cache (explicit download); returns the file."""
    entry = CODECS.get(name)
    if entry is None or entry.remote is None:
        remote = sorted(k for k, v in CODECS.items() if v.remote)
        raise InvalidInputError(f"{name!r} has no downloadable weights; these do: {remote}.")
    url = entry.remote.url
    dest = hub.cache_dir() / name / url.rsplit("/", 1)[-1]
    return hub.download(url, dest, sha256=entry.remote.sha256, what=f"{name} weights")


def _load_named(name: str, pretrained: bool) -> Codec:
    entry = CODECS[name]
    if entry.random_seed is not None:
        codec = _seeded_random_codec(entry.config, entry.random_seed)
    elif not pretrained:
        codec = build_codec(entry.config)
    elif entry.remote is None:
        shipped = PRETRAINED_DIR / name
        if not (shipped / hub.WEIGHTS_NAME).is_file():
            raise PretrainedNotFoundError(
                f"the trained weights of {name} are not in this install ({shipped}). Make them "
                "as codecs/README.md says (`tokgen fit codec` or `tokgen train codec`), load a "
                "checkpoint directory, or pass pretrained=False for random weights."
            )
        return _from_checkpoint(shipped)
    else:
        codec = build_codec(entry.config)
        codec.load_state_dict(entry.remote.convert(_load_official(name)))
    if entry.default_bandwidth is not None:
        codec.set_bandwidth(entry.default_bandwidth)
    return codec


def _seeded_random_codec(config: Any, seed: int) -> Codec:
    """Random weights from ``seed``, codebooks fitted (k-means) to latents of seeded noise,
    so the codec uses its whole vocabulary: a deterministic stand-in for tests."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codec = build_codec(config)
        noise = 0.3 * torch.randn(4, codec.channels, codec.sample_rate)  # [B, C, T]
        with torch.no_grad():
            codec.train()(noise)
    return codec.eval()


def _load_official(name: str) -> Any:
    """Download (if needed) and read an official checkpoint without unpickling code."""
    file = download_codec(name)
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:
        raise PretrainedNotFoundError(
            f"{file} could not be read as plain tensors ({err}); delete it and download again."
        ) from err


def _from_checkpoint(path: Path) -> Codec:
    config, state = hub.load_checkpoint(path)
    num_codebooks = config.pop("num_codebooks", None)
    codec = build_codec(config, source=str(path / hub.CONFIG_NAME))
    codec.load_state_dict(state)
    if num_codebooks is not None:
        codec.set_num_codebooks(num_codebooks)
    return codec
