"""``.tokens`` files: codec codes in safetensors, with the codec's name and config hash.

A file holds one tensor ``codes [B, K, F]`` (int16 when it fits) and string metadata:
``format``, ``codec`` (name), ``config_hash``, ``sample_rate``, ``num_samples`` (JSON list,
one per item) and ``tokgen_version``. No pickle is involved in reading or writing.

The helpers :func:`codec_metadata`, :func:`codes_dtype`, :func:`read_metadata` and
:func:`check_codec_hash` are shared with the token shards of :mod:`tokgen.data.tokenize`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from tokgen.codecs.base import Codec
from tokgen.errors import CodesError

FORMAT = "tokgen.tokens.v1"


@dataclass
class TokenFile:
    """Contents of a ``.tokens`` file."""

    codes: torch.Tensor  # [B, K, F] int64
    codec: str
    config_hash: str
    sample_rate: int
    num_samples: list[int]  # original length of each item, in samples at sample_rate

    def check_codec(self, codec: Codec) -> None:
        """Raise :class:`CodesError` unless these tokens were made by ``codec``'s architecture."""
        check_codec_hash(codec, self.codec, self.config_hash)


def check_codec_hash(codec: Codec, name: str, config_hash: str) -> None:
    """Raise :class:`CodesError` unless ``codec`` has the architecture tokens were made with."""
    if codec.config_hash != config_hash:
        raise CodesError(
            f"these tokens were made by {name!r} (config hash {config_hash}), "
            f"but the codec given is {codec.name!r} (config hash {codec.config_hash}); "
            "decode with the codec that encoded them."
        )


def codec_metadata(codec: Codec, fmt: str) -> dict[str, str]:
    """The string metadata every tokgen token file carries: format, codec, hash, rate, version."""
    from tokgen import __version__

    return {
        "format": fmt,
        "codec": codec.name,
        "config_hash": codec.config_hash,
        "sample_rate": str(codec.sample_rate),
        "tokgen_version": __version__,
    }


def codes_dtype(codec: Codec) -> torch.dtype:
    """The smallest integer dtype holding ``codec``'s codes on disk (int16 when it fits)."""
    return torch.int16 if codec.cardinality <= 2**15 else torch.int32


def read_metadata(path: str | os.PathLike, fmt: str = FORMAT) -> dict[str, str]:
    """The metadata of token file ``path``; :class:`CodesError` unless it has format ``fmt``."""
    path = Path(path)
    if not path.is_file():
        raise CodesError(f"token file not found: {path}.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise CodesError(f"{path} is not a tokgen token file: {err}.") from err
    if metadata.get("format") != fmt:
        raise CodesError(
            f"{path} is not a tokgen token file of format {fmt!r} "
            f"(its format is {metadata.get('format')!r})."
        )
    return metadata


def save_tokens(
    path: str | os.PathLike, codes: torch.Tensor, codec: Codec, num_samples: list[int]
) -> Path:
    """Write ``codes [B, K, F]`` made by ``codec`` to ``path`` atomically."""
    if codes.ndim != 3 or len(num_samples) != codes.shape[0]:
        raise CodesError(
            f"codes must be [B, K, F] with one length per item; got {tuple(codes.shape)} "
            f"and {len(num_samples)} lengths."
        )
    metadata = {
        **codec_metadata(codec, FORMAT),
        "num_samples": json.dumps([int(n) for n in num_samples]),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    codes = codes.to(codes_dtype(codec)).cpu().contiguous()
    try:
        save_file({"codes": codes}, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # never leave a partial file behind
    return path


def load_tokens(path: str | os.PathLike) -> TokenFile:
    """Read a ``.tokens`` file written by :func:`save_tokens`."""
    metadata = read_metadata(path)
    try:
        codes = load_file(str(path))["codes"]
    except (SafetensorError, KeyError, OSError) as err:
        raise CodesError(f"{path} is not a tokgen token file: {err}.") from err
    return TokenFile(
        codes=codes.long(),
        codec=metadata["codec"],
        config_hash=metadata["config_hash"],
        sample_rate=int(metadata["sample_rate"]),
        num_samples=json.loads(metadata["num_samples"]),
    )
