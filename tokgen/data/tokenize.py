"""Offline tokenization: an audio manifest -> sharded codec tokens + a token manifest.

``tokenize_manifest(codec, "data/train.jsonl", "tokens/train")`` writes into the folder::

    tokens.json               header: codec, config and weights hash, K, cardinality, rates,
                              source manifest (see :class:`TokenHeader`)
    tokens.jsonl              one line per tokenized row: its manifest fields + ``shard``,
                              ``offset``, ``frames`` and ``decode_length`` (samples at the
                              codec's rate, for ``codec.decode(codes, length=...)``)
    shard-00000.safetensors   codes [K, total_frames] (int16), offsets [N+1] (int64),
                              num_samples [N] (int64); metadata as in ``.tokens`` files

and :class:`~tokgen.data.token_corpus.TokenCorpus` reads it back (``corpus.codes(i)`` is
a LongTensor ``[K, F]``).

* Shards hold ``shard_size`` consecutive rows. Within a shard, clips are sorted by duration
  and encoded ``batch_size`` at a time by :func:`encode_batch`, which gives the codes each
  clip gets when encoded alone.
* Resume: each shard is written to a temporary file and renamed. A rerun checks the header
  (a different codec, weights, ``num_codebooks``, manifest, ``shard_size`` or
  ``with_sources`` is refused), keeps the shards that are complete (their rows, no
  failures) and redoes the others, then rewrites ``tokens.jsonl`` from the shards: after a
  kill at any point a rerun gives the same content, and a fixed audio file is retried.
* Failures: a row whose audio is unreadable or cannot be converted, or whose frame count is
  off by more than one from ``duration * frame_rate``, is left out of ``tokens.jsonl`` and
  reported with the reason in :class:`TokenizeReport`; the other rows are tokenized.
* ``with_sources``: each ``sources[i].path`` of a mixture row is encoded too (it must be as
  long as the mixture), stored in the row's shard, and ``sources[i]`` in ``tokens.jsonl``
  gets its own ``shard``/``offset``/``frames``/``decode_length``; read it with
  :meth:`~tokgen.data.token_corpus.TokenCorpus.source_codes`. A row fails if its mixture or any source fails.
* ``latents``: the shards hold the codec's continuous latents ``latents [D, total_frames]``
  (float16, :meth:`~tokgen.codecs.Codec.encode_latent`) instead of codes, for the diffusion
  decoder; read them with :meth:`~tokgen.data.token_corpus.TokenCorpus.latents`.
* ``kinds``: only the manifest's rows of these ``kind`` values (e.g. music and sound events).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from tokgen import audio as audio_io
from tokgen.codecs.base import Codec
from tokgen.codecs.token_file import codec_metadata, codes_dtype, read_metadata
from tokgen.data.manifest import read_manifest
from tokgen.data.token_corpus import (
    HEADER_NAME,
    MANIFEST_NAME,
    TokenHeader,
    weights_hash,
)
from tokgen.errors import CodesError, InvalidInputError, TokgenError
from tokgen.hub import atomic_write_text, sha256_file

SHARD_FORMAT = "tokgen.token_shard.v1"

Key = tuple[str, int | None]  # (row id, source index; None for the row's own audio)


@dataclass(frozen=True)
class Failure:
    """A manifest row that could not be tokenized, and why."""

    id: str
    reason: str


@dataclass
class TokenizeReport:
    """What :func:`tokenize_manifest` did."""

    done: int  # rows tokenized by this run
    skipped: int  # rows in shards an earlier run completed
    failures: list[Failure]  # rows left out, in manifest order
    shards_written: int
    frames: int  # frames in the whole corpus, rows and sources
    seconds: float

    @property
    def failed(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        return (
            f"{self.done} rows tokenized, {self.skipped} already done, {self.failed} failed; "
            f"{self.shards_written} shards written, {self.frames} frames in the corpus, "
            f"{self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class _Entry:
    """One clip to encode: a row's audio (``source=None``) or its ``source``-th source."""

    row: str
    source: int | None
    path: Path
    duration: float  # the row's, in seconds

    @property
    def key(self) -> Key:
        return (self.row, self.source)


def tokenize_manifest(
    codec: Codec,
    manifest_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    batch_size: int = 8,
    shard_size: int = 1024,
    num_codebooks: int | None = None,
    with_sources: bool = False,
    latents: bool = False,
    kinds: list[str] | None = None,
    progress: bool = True,
) -> TokenizeReport:
    """Encode every row of JSONL ``manifest_path`` with ``codec`` into token shards in ``out_dir``.

    ``num_codebooks`` defaults to the codec's. See the module docstring for the layout and
    the batching, resume and failure rules. Raises :class:`InvalidInputError` for a bad
    manifest or an ``out_dir`` holding tokens made with other settings.
    """
    start = time.perf_counter()
    if batch_size < 1 or shard_size < 1:
        raise InvalidInputError(
            f"batch_size and shard_size must be positive, got {batch_size} and {shard_size}."
        )
    manifest_path, out_dir = Path(manifest_path), Path(out_dir)
    rows = read_rows(manifest_path, with_sources=with_sources)
    if kinds:
        rows = [row for row in rows if row.get("kind") in kinds]
        if not rows:
            raise InvalidInputError(f"{manifest_path} has no rows of kinds {sorted(kinds)}.")
    header = _make_header(
        codec, manifest_path, num_codebooks, shard_size, with_sources, latents, kinds
    )
    _prepare_output(out_dir, header)
    shards = [rows[i : i + shard_size] for i in range(0, len(rows), shard_size)]
    names = [f"shard-{i:05d}.safetensors" for i in range(len(shards))]
    entries = [
        [entry for row in shard for entry in _entries(row, manifest_path.parent, with_sources)]
        for shard in shards
    ]
    done = skipped = written = 0
    failures: list[Failure] = []
    total = sum(map(len, entries))
    with tqdm(total=total, desc="tokenize", unit="clip", disable=not progress) as bar:
        for name, shard, shard_entries in zip(names, shards, entries):
            ids = [row["id"] for row in shard]
            if _is_complete(out_dir / name, header, ids):
                skipped += len(ids)
                bar.update(len(shard_entries))
                continue
            encoded, errors = _encode_entries(codec, shard_entries, header, batch_size, bar)
            _write_shard(out_dir / name, codec, header, ids, shard_entries, encoded, errors)
            failures += [Failure(i, errors[i]) for i in ids if i in errors]
            done += len(ids) - len(errors)
            written += 1
    frames = _write_manifest(out_dir, rows, names)
    return TokenizeReport(done, skipped, failures, written, frames, time.perf_counter() - start)


def read_rows(path: str | os.PathLike, *, with_sources: bool = False) -> list[dict[str, Any]]:
    """Manifest rows, each with a unique ``id``, a ``path`` and a positive ``duration``.

    With ``with_sources``, ``sources`` (if present) must list objects with a ``path``.
    Raises :class:`InvalidInputError` naming the bad line.
    """
    seen: set[str] = set()

    def check(row: dict[str, Any]) -> str | None:
        problem = _row_problem(row, with_sources)
        if problem is None and row["id"] in seen:
            problem = f"id {row['id']!r} appears twice; ids must be unique"
        seen.add(row.get("id"))
        return problem

    return read_manifest(path, check=check, purpose="tokenize")


def _row_problem(row: Any, with_sources: bool) -> str | None:
    if not isinstance(row.get("id"), str):
        return "a manifest row needs a string 'id'"
    duration = row.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not duration > 0:
        return f"'duration' must be a positive number of seconds, got {duration!r}"
    sources = row.get("sources", []) if with_sources else []
    if not isinstance(sources, list) or not all(
        isinstance(source, dict) and isinstance(source.get("path"), str) for source in sources
    ):
        return "'sources' must be a list of objects with a 'path' (for --with-sources)"
    return None


def _entries(row: dict[str, Any], root: Path, with_sources: bool) -> list[_Entry]:
    """The clips of ``row``: its audio, then its sources if ``with_sources``."""
    own = _Entry(row["id"], None, root / row["path"], float(row["duration"]))
    sources = row.get("sources", []) if with_sources else []
    return [
        own,
        *(
            _Entry(own.row, i, root / source["path"], own.duration)
            for i, source in enumerate(sources)
        ),
    ]


def _make_header(
    codec: Codec,
    manifest_path: Path,
    num_codebooks: int | None,
    shard_size: int,
    with_sources: bool,
    latents: bool,
    kinds: list[str] | None,
) -> TokenHeader:
    count = codec.num_codebooks if num_codebooks is None else num_codebooks
    return TokenHeader(
        codec=codec.name,
        config_hash=codec.config_hash,
        weights_hash=weights_hash(codec),
        num_codebooks=codec.check_num_codebooks(count),
        cardinality=codec.cardinality,
        frame_rate=codec.frame_rate,
        sample_rate=codec.sample_rate,
        hop_length=codec.hop_length,
        manifest=str(manifest_path.resolve()),
        manifest_sha256=sha256_file(manifest_path),
        shard_size=shard_size,
        with_sources=with_sources,
        latents=latents,
        kinds=sorted(kinds) if kinds else None,
    )


def _prepare_output(folder: Path, header: TokenHeader) -> None:
    """Start ``folder`` with ``header``, or check that an earlier run's header matches it."""
    if (folder / HEADER_NAME).is_file():
        differences = TokenHeader.read(folder).differences(header)
        if differences:
            raise InvalidInputError(
                f"{folder} holds tokens made with other settings ({'; '.join(differences)}); "
                f"tokenize into another folder, or delete {folder} to start over."
            )
    folder.mkdir(parents=True, exist_ok=True)
    for tmp in folder.glob(".*.partial"):  # left by a killed run
        tmp.unlink()
    header.write(folder)


def _shard_settings(header: TokenHeader) -> dict[str, str]:
    """Shard metadata beyond :func:`codec_metadata` that must match the header."""
    return {
        "config_hash": header.config_hash,
        "weights_hash": header.weights_hash,
        "num_codebooks": str(header.num_codebooks),
        "frame_rate": repr(header.frame_rate),
        "latents": str(header.latents),
    }


def _is_complete(path: Path, header: TokenHeader, ids: list[str]) -> bool:
    """Whether an earlier run wrote shard ``path`` for rows ``ids`` with ``header``, all done."""
    try:
        metadata = read_metadata(path, SHARD_FORMAT)
    except CodesError:
        return False
    expected = {**_shard_settings(header), "rows": json.dumps(ids), "failures": "{}"}
    return all(metadata.get(key) == value for key, value in expected.items())


def _encode_entries(
    codec: Codec, entries: list[_Entry], header: TokenHeader, batch_size: int, bar: tqdm
) -> tuple[dict[Key, tuple[torch.Tensor, int]], dict[str, str]]:
    """Encode in duration-sorted batches: ``(codes [K, F], samples)`` by key; reason by row id."""
    encoded: dict[Key, tuple[torch.Tensor, int]] = {}
    errors: dict[str, str] = {}
    ordered = sorted(entries, key=lambda entry: entry.duration)
    for start in range(0, len(ordered), batch_size):
        batch = ordered[start : start + batch_size]
        clips: dict[Key, torch.Tensor] = {}  # [C, T] each
        for entry in batch:
            try:
                clips[entry.key] = _load_clip(codec, entry)
            except TokgenError as err:
                where = "" if entry.source is None else f"source {entry.source}: "
                errors.setdefault(entry.row, f"{where}{err}")
        if clips:
            codes = encode_batch(
                codec, list(clips.values()), header.num_codebooks, latents=header.latents
            )
            for (key, clip), item in zip(clips.items(), codes):
                encoded[key] = (item, clip.shape[-1])
        bar.update(len(batch))
    return encoded, errors


def _load_clip(codec: Codec, entry: _Entry) -> torch.Tensor:
    """``entry``'s audio at the codec's rate and channels, ``[C, T]``, its length checked."""
    clip = audio_io.load(entry.path, target_sample_rate=codec.sample_rate, channels=codec.channels)
    frames = math.ceil(clip.num_samples / codec.hop_length)
    expected = entry.duration * codec.frame_rate
    if abs(frames - expected) > 1:
        raise InvalidInputError(
            f"{entry.path} is {clip.duration:.3f} s long ({frames} frames), but the manifest "
            f"says {entry.duration:g} s ({expected:.1f} frames); fix the row's duration or the file."
        )
    return clip.samples[0]


def encode_batch(
    codec: Codec,
    clips: list[torch.Tensor],
    num_codebooks: int | None = None,
    *,
    latents: bool = False,
) -> list[torch.Tensor]:
    """Encode clips ``[C, T_i]`` (at ``codec.sample_rate``) together: codes ``[K, F_i]`` each
    (with ``latents``: continuous latents ``[D, F_i]``).

    ``F_i = ceil(T_i / hop_length)``, and the codes are those the clip gets when encoded
    alone. The clips are zero-padded to the longest, which changes the last frames of a
    non-causal codec; so the last ``c`` frames of each padded clip are encoded again from a
    window of its last ``2c`` frames, ``c`` spanning ``codec.context_seconds`` (the receptive
    field that chunked encoding relies on too)::

        batch    |========= kept =========|<-- c -->|000 padding 000|
        window              |<- c, drop ->|<-- c -->|

    Windows of one size are encoded as one batch; a clip of at most ``2c`` frames is its
    own window.
    """
    hop = codec.hop_length
    frames = [math.ceil(clip.shape[-1] / hop) for clip in clips]
    longest = max(frames)
    codes = _encode_padded(codec, clips, longest, num_codebooks, latents)  # [B, K, longest]
    out = [codes[i, :, :count] for i, count in enumerate(frames)]  # [K, F_i] each
    context = round(codec.context_seconds * codec.frame_rate)
    windows: dict[int, list[int]] = {}  # window frames -> clips re-encoded in such a window
    for i, count in enumerate(frames):
        if count < longest:
            windows.setdefault(min(count, 2 * context), []).append(i)
    for size, items in windows.items():
        tails = [clips[i][:, (frames[i] - size) * hop :] for i in items]  # [C, <= size*hop]
        tail_codes = _encode_padded(codec, tails, size, num_codebooks, latents)  # [b, K, size]
        for i, tail in zip(items, tail_codes):
            keep = context if size < frames[i] else size
            out[i] = torch.cat([out[i][:, : frames[i] - keep], tail[:, size - keep :]], dim=-1)
    return out


def _encode_padded(
    codec: Codec, clips: list[torch.Tensor], frames: int, num_codebooks: int | None, latents: bool
) -> torch.Tensor:
    """Zero-pad clips ``[C, T_i]`` to ``frames`` frames and encode them: ``[B, K, frames]``
    (or latents ``[B, D, frames]``)."""
    length = frames * codec.hop_length
    batch = torch.stack([torch.nn.functional.pad(c, (0, length - c.shape[-1])) for c in clips])
    if latents:
        return codec.encode_latent(batch, sample_rate=codec.sample_rate).cpu()
    return codec.encode(batch, sample_rate=codec.sample_rate, num_codebooks=num_codebooks).cpu()


def _write_shard(
    path: Path,
    codec: Codec,
    header: TokenHeader,
    ids: list[str],
    entries: list[_Entry],
    encoded: dict[Key, tuple[torch.Tensor, int]],
    errors: dict[str, str],
) -> None:
    """Write the codes of the rows that did not fail, in manifest order, atomically."""
    keys = [entry.key for entry in entries if entry.row not in errors]
    parts = [encoded[key][0] for key in keys]  # [K, F_i] (or [D, F_i]) each
    rows = codec.latent_dim if header.latents else header.num_codebooks
    codes = torch.cat(parts, dim=-1) if parts else torch.zeros(rows, 0)
    offsets = torch.tensor([0, *itertools.accumulate(p.shape[-1] for p in parts)])  # [N+1]
    num_samples = torch.tensor([encoded[key][1] for key in keys], dtype=torch.long)  # [N]
    metadata = {
        **codec_metadata(codec, SHARD_FORMAT),
        **_shard_settings(header),
        "rows": json.dumps(ids),
        "entries": json.dumps(keys),
        "failures": json.dumps({i: errors[i] for i in ids if i in errors}),
    }
    stored = codes.half() if header.latents else codes.to(codes_dtype(codec))
    tensors = {
        header.tensor_name: stored.contiguous(),  # [K, total_frames] (latents: [D, ...])
        "offsets": offsets,
        "num_samples": num_samples,
    }
    tmp = path.with_name(f".{path.name}.partial")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def _write_manifest(folder: Path, rows: list[dict[str, Any]], names: list[str]) -> int:
    """Rewrite ``tokens.jsonl`` from the shards ``names``; returns the corpus' frames."""
    refs: dict[Key, dict[str, Any]] = {}
    for name in names:
        refs.update(_shard_refs(folder, name))
    lines = []
    for row in rows:
        if (row["id"], None) not in refs:  # failed
            continue
        line = {**row, **refs[(row["id"], None)]}
        if (row["id"], 0) in refs:
            line["sources"] = [
                {**source, **refs[(row["id"], i)]} for i, source in enumerate(row["sources"])
            ]
        lines.append(json.dumps(line) + "\n")
    atomic_write_text(folder / MANIFEST_NAME, "".join(lines))
    return sum(ref["frames"] for ref in refs.values())


def _shard_refs(folder: Path, name: str) -> dict[Key, dict[str, Any]]:
    """Where each clip of shard ``name`` lies: ``shard``, ``offset``, ``frames``, ``decode_length``."""
    with safe_open(str(folder / name), framework="pt") as handle:
        keys = json.loads(handle.metadata()["entries"])
        offsets = handle.get_tensor("offsets").tolist()
        lengths = handle.get_tensor("num_samples").tolist()
    return {
        (row, source): {
            "shard": name,
            "offset": offsets[i],
            "frames": offsets[i + 1] - offsets[i],
            "decode_length": lengths[i],
        }
        for i, (row, source) in enumerate(keys)
    }
