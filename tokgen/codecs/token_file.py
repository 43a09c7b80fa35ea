"""``.tokens`` files: codec codes in safetensors, with the codec's name and config hash.

A file holds one tensor ``codes [B, K, F]`` (int16 when it fits) and string metadata:
``codec`` (name), ``config_hash``, ``sample_rate``, ``num_samples`` (JSON list, one per
item) and ``tokgen_version``. No pickle is involved in reading or writing.
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
        if codec.config_hash != self.config_hash:
            raise CodesError(
                f"these tokens were made by {self.codec!r} (config hash {self.config_hash}), "
                f"but the codec given is {codec.name!r} (config hash {codec.config_hash}); "
                "decode with the codec that encoded them."
            )


def save_tokens(
    path: str | os.PathLike, codes: torch.Tensor, codec: Codec, num_samples: list[int]
) -> Path:
    """Write ``codes [B, K, F]`` made by ``codec`` to ``path`` atomically."""
    if codes.ndim != 3 or len(num_samples) != codes.shape[0]:
        raise CodesError(
            f"codes must be [B, K, F] with one length per item; got {tuple(codes.shape)} "
            f"and {len(num_samples)} lengths."
        )
    from tokgen import __version__

    dtype = torch.int16 if codec.cardinality <= 2**15 else torch.int32
    metadata = {
        "format": FORMAT,
        "codec": codec.name,
        "config_hash": codec.config_hash,
        "sample_rate": str(codec.sample_rate),
        "num_samples": json.dumps([int(n) for n in num_samples]),
        "tokgen_version": __version__,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    save_file({"codes": codes.to(dtype).cpu().contiguous()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def load_tokens(path: str | os.PathLike) -> TokenFile:
    """Read a ``.tokens`` file written by :func:`save_tokens`."""
    path = Path(path)
    if not path.is_file():
        raise CodesError(f"token file not found: {path}.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        codes = load_file(str(path))["codes"]
    except (SafetensorError, KeyError, OSError) as err:
        raise CodesError(f"{path} is not a tokgen token file: {err}.") from err
    if metadata.get("format") != FORMAT:
        raise CodesError(f"{path} is not a tokgen token file (format {metadata.get('format')!r}).")
    return TokenFile(
        codes=codes.long(),
        codec=metadata["codec"],
        config_hash=metadata["config_hash"],
        sample_rate=int(metadata["sample_rate"]),
        num_samples=json.loads(metadata["num_samples"]),
    )
