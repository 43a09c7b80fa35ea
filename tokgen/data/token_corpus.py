"""Reading a token corpus (written by :func:`tokgen.data.tokenize.tokenize_manifest`): its
header ``tokens.json``, its rows ``tokens.jsonl`` and their codes in the shards."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from tokgen.codecs.base import Codec
from tokgen.codecs.token_file import check_codec_hash
from tokgen.errors import CodesError, ConfigError, InvalidInputError
from tokgen.hub import atomic_write_text, config_from_dict

CORPUS_FORMAT = "tokgen.token_corpus.v1"
HEADER_NAME = "tokens.json"
MANIFEST_NAME = "tokens.jsonl"


@dataclass(frozen=True)
class TokenHeader:
    """``tokens.json``: what made a token corpus. A rerun must match all but ``manifest``."""

    codec: str
    config_hash: str
    weights_hash: str  # of all but the decoder: other encoder weights, other tokens
    num_codebooks: int
    cardinality: int
    frame_rate: float
    sample_rate: int
    hop_length: int
    manifest: str  # the source manifest, resolved
    manifest_sha256: str
    shard_size: int
    with_sources: bool
    format: str = CORPUS_FORMAT
    latents: bool = False  # continuous latents [D, F] (Codec.encode_latent) instead of codes
    kinds: list[str] | None = None  # only the manifest rows of these kinds (None: all)

    @property
    def tensor_name(self) -> str:
        """What the shards hold: ``codes`` or ``latents``."""
        return "latents" if self.latents else "codes"

    @classmethod
    def read(cls, folder: Path) -> TokenHeader:
        path = folder / HEADER_NAME
        if not path.is_file():
            raise InvalidInputError(
                f"{folder} is not a token corpus ({HEADER_NAME} is missing); "
                "make one with `tokgen data tokenize`."
            )
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"{path} is not valid JSON ({err.msg}).") from err
        if not isinstance(data, dict) or data.get("format") != CORPUS_FORMAT:
            raise InvalidInputError(f"{path} is not a {CORPUS_FORMAT} header.")
        return config_from_dict(cls, data, source=str(path))

    def write(self, folder: Path) -> None:
        atomic_write_text(
            folder / HEADER_NAME, json.dumps(dataclasses.asdict(self), indent=2) + "\n"
        )

    def differences(self, other: TokenHeader) -> list[str]:
        """Fields other than ``manifest`` that differ, as ``"name: mine -> other's"``."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return [
            f"{name}: {mine[name]!r} -> {theirs[name]!r}"
            for name in mine
            if name != "manifest" and mine[name] != theirs[name]
        ]


class TokenCorpus:
    """A token corpus written by :func:`tokenize_manifest`: ``rows`` and their codes."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.header = TokenHeader.read(self.folder)
        manifest = self.folder / MANIFEST_NAME
        if not manifest.is_file():
            raise InvalidInputError(
                f"{manifest} is missing: the tokenization did not finish; rerun "
                "`tokgen data tokenize` with the same arguments to complete it."
            )
        self.rows: list[dict[str, Any]] = [
            json.loads(line) for line in manifest.read_text().splitlines()
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def codes(self, index: int) -> torch.Tensor:
        """Codes ``[K, F]`` (int64) of row ``index``."""
        if self.header.latents:
            raise InvalidInputError(
                f"{self.folder} holds continuous latents, not codes (it was made with "
                "--latents); read it with .latents(i), or tokenize without --latents."
            )
        return self._read(self.rows[index]).long()

    def latents(self, index: int) -> torch.Tensor:
        """Continuous latent ``[D, F]`` (float32) of row ``index`` (a ``--latents`` corpus)."""
        if not self.header.latents:
            raise InvalidInputError(
                f"{self.folder} holds codes, not latents; make a latent corpus with "
                "`tokgen data tokenize --latents`."
            )
        return self._read(self.rows[index]).float()

    def source_codes(self, index: int, source: int) -> torch.Tensor:
        """Codes ``[K, F]`` (int64) of source ``source`` of mixture row ``index``."""
        if not self.header.with_sources:
            raise InvalidInputError(
                f"{self.folder} was tokenized without sources; rerun `tokgen data tokenize` "
                "with --with-sources into a new folder."
            )
        return self._read(self.rows[index]["sources"][source]).long()

    def check_codec(self, codec: Codec) -> None:
        """Raise :class:`CodesError` unless ``codec`` has the architecture and the encoder
        weights that made these tokens (its decoder may differ)."""
        check_codec_hash(codec, self.header.codec, self.header.config_hash)
        found = weights_hash(codec)
        if found != self.header.weights_hash:
            raise CodesError(
                f"{self.folder} was made by another {self.header.codec!r} encoder (weights hash "
                f"{self.header.weights_hash}, this codec's {found}); tokenize "
                "the manifest again into a new folder."
            )

    def _read(self, ref: dict[str, Any]) -> torch.Tensor:
        """The stored ``[K, F]`` codes or ``[D, F]`` latents of one clip, as stored."""
        start, stop = ref["offset"], ref["offset"] + ref["frames"]
        with safe_open(str(self.folder / ref["shard"]), framework="pt") as handle:
            return handle.get_slice(self.header.tensor_name)[:, start:stop]


def weights_hash(codec: Codec) -> str:
    """Short SHA-256 (16 hex digits) of the weights that make the tokens: all but the
    decoder's, so a codec whose decoder was trained further still matches its tokens."""
    digest = hashlib.sha256()
    for name, tensor in sorted(codec.state_dict().items()):
        if name.startswith("decoder."):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def read_latent_corpus(
    folder: str | os.PathLike, kinds: str
) -> tuple[TokenCorpus, list[torch.Tensor]]:
    """A latent corpus and every row's latent ``[D, F_i]`` (read once), after checking it
    holds latents, not codes, of its codec as that codec is now (stale latents would train
    in vain). ``kinds`` completes the hint on how to make one (``--kinds KINDS``)."""
    from tokgen.codecs import load_codec

    corpus = TokenCorpus(folder)
    if not corpus.header.latents:
        raise ConfigError(
            f"{folder} holds codes; make a latent corpus with `tokgen data tokenize --latents "
            f"--kinds {kinds} ...`."
        )
    corpus.check_codec(load_codec(corpus.header.codec))
    return corpus, [corpus.latents(i) for i in range(len(corpus))]
