"""``tokgen data import``: an existing dataset folder -> a tokgen JSONL manifest.

Layouts (``--format``, or detected by :func:`detect_format`):

* ``ljspeech``: ``metadata.csv`` of ``id|text|normalized text`` lines and ``wavs/ID.wav``;
  one speaker (``--voice``, default the folder's name).
* ``commonvoice``: a TSV (``validated.tsv``, ``train.tsv``...) with ``path``, ``sentence``
  and ``client_id`` columns; audio in ``clips/`` (or beside the TSV); ``client_id`` is the voice.
* ``captions``: a CSV of ``file,caption`` rows (AudioCaps / Clotho style; a file may have
  several rows, or ``caption_1..caption_N`` columns); audio beside the CSV or in ``audio/``.
* ``folder``: audio files with same-named ``.txt`` files, read as transcripts (speech) or,
  with ``--text-kind caption``, captions (sounds).

Every clip is checked through :mod:`tokgen.audio` (missing, unreadable, empty, too short or
too long audio, an empty transcript): a bad row is counted and listed, never fatal for the
others. Rows are sorted by id; the split is a hash of the id (``--valid-fraction``), so a
rerun writes the same manifest. Paths are stored relative to the manifest. Besides
``NAME.jsonl`` (every row, with its ``split``), ``NAME.train.jsonl`` and ``NAME.valid.jsonl``
hold each split's rows, ready for ``tokgen data tokenize``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tokgen import audio as audio_io
from tokgen.errors import InvalidInputError, TokgenError
from tokgen.hub import atomic_write_text

FORMATS = ("ljspeech", "commonvoice", "captions", "folder")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
MIN_SECONDS = 0.5
MAX_SECONDS = 30.0


@dataclass
class Candidate:
    """One row a layout proposes, before its audio is checked."""

    id: str
    audio: Path
    kind: str  # "speech" (transcript) or "sound_event" (captions)
    voice: str | None = None
    transcript: str | None = None
    captions: list[str] = field(default_factory=list)


@dataclass
class ImportFailure:
    id: str
    reason: str


@dataclass
class ImportReport:
    """What :func:`import_dataset` wrote and what it left out."""

    manifest: Path
    format: str
    rows: int
    failures: list[ImportFailure]
    hours: float

    @property
    def failed(self) -> int:
        return len(self.failures)


def detect_format(src: Path) -> str:
    """The layout of ``src`` (see the module docstring), or InvalidInputError."""
    if (src / "metadata.csv").is_file() and (src / "wavs").is_dir():
        return "ljspeech"
    for tsv in sorted(src.glob("*.tsv")):
        if {"path", "sentence"} <= set(_header(tsv, "\t")):
            return "commonvoice"
    for table in sorted(src.glob("*.csv")):
        columns = set(_header(table, ","))
        if any(c.startswith("caption") for c in columns) and columns & {"file", "file_name"}:
            return "captions"
    if any(p.suffix.lower() in AUDIO_SUFFIXES for p in src.rglob("*")):
        return "folder"
    raise InvalidInputError(
        f"{src}: no known dataset layout (LJSpeech metadata.csv + wavs/, a Common Voice TSV, "
        f"a file,caption CSV, or audio files with .txt transcripts); pass --format."
    )


def _header(path: Path, delimiter: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle, delimiter=delimiter), [])


def read_ljspeech(src: Path, voice: str | None) -> Iterator[Candidate]:
    voice = voice or src.resolve().name
    lines = (src / "metadata.csv").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("|")]
        clip_id = fields[0] or f"line-{number}"
        normalized = fields[2] if len(fields) > 2 else ""
        text = normalized or (fields[1] if len(fields) > 1 else "")
        audio = src / "wavs" / f"{clip_id}.wav"
        yield Candidate(clip_id, audio, "speech", voice=voice, transcript=text)


def read_commonvoice(src: Path) -> Iterator[Candidate]:
    tsvs = [t for t in sorted(src.glob("*.tsv")) if {"path", "sentence"} <= set(_header(t, "\t"))]
    seen: set[str] = set()
    for tsv in tsvs:
        with open(tsv, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                name = (row.get("path") or "").strip()
                if not name or name in seen:
                    continue
                seen.add(name)
                audio = src / "clips" / name if (src / "clips").is_dir() else src / name
                voice = (row.get("client_id") or "").strip() or None
                yield Candidate(
                    Path(name).stem, audio, "speech", voice=voice, transcript=row.get("sentence")
                )


def read_captions(src: Path) -> Iterator[Candidate]:
    table = next(t for t in sorted(src.glob("*.csv")) if _header(t, ","))
    base = src / "audio" if (src / "audio").is_dir() else src
    captions: dict[str, list[str]] = {}
    with open(table, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = (row.get("file") or row.get("file_name") or "").strip()
            texts = [v.strip() for k, v in row.items() if k and k.startswith("caption") and v]
            if name:
                captions.setdefault(name, []).extend(t for t in texts if t)
    for name, texts in captions.items():  # a path from the root, or a name in audio/
        audio = src / name if (src / name).is_file() else base / name
        yield Candidate(Path(name).stem, audio, "sound_event", captions=texts)


def read_folder(src: Path, text_kind: str, voice: str | None) -> Iterator[Candidate]:
    for audio in sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        text_file = audio.with_suffix(".txt")
        text = text_file.read_text(encoding="utf-8").strip() if text_file.is_file() else ""
        clip_id = audio.relative_to(src).with_suffix("").as_posix().replace("/", "-")
        if text_kind == "caption":
            yield Candidate(clip_id, audio, "sound_event", captions=[text] if text else [])
        else:
            speaker = voice or audio.parent.name
            yield Candidate(clip_id, audio, "speech", voice=speaker, transcript=text)


def split_manifest(manifest: Path, split: str) -> Path:
    """``data/my.jsonl`` -> ``data/my.train.jsonl`` (the rows of one split)."""
    return manifest.with_name(f"{manifest.stem}.{split}{manifest.suffix}")


def split_of(clip_id: str, valid_fraction: float) -> str:
    """``valid`` for a deterministic ``valid_fraction`` of ids, else ``train``."""
    digest = int(hashlib.sha256(clip_id.encode()).hexdigest()[:8], 16) / 16**8
    return "valid" if digest < valid_fraction else "train"


def check_candidate(candidate: Candidate, root: Path, max_seconds: float) -> dict[str, Any]:
    """The manifest row of ``candidate``, or TokgenError saying what is wrong with it."""
    if candidate.kind == "speech" and not (candidate.transcript or "").strip():
        raise InvalidInputError("empty transcript")
    if candidate.kind != "speech" and not candidate.captions:
        raise InvalidInputError("no caption")
    clip = audio_io.load(candidate.audio, max_seconds=max_seconds)
    if clip.duration < MIN_SECONDS:
        raise InvalidInputError(f"{clip.duration:.2f} s is shorter than {MIN_SECONDS} s")
    if float(clip.samples.abs().max()) == 0.0:
        raise InvalidInputError("the audio is digital silence")
    row: dict[str, Any] = {
        "id": candidate.id,
        "path": os.path.relpath(candidate.audio.resolve(), root.resolve()),
        "kind": candidate.kind,
        "duration": round(clip.duration, 3),
        "num_samples": clip.num_samples,
        "sample_rate": clip.sample_rate,
        "engine": "imported",  # recordings a user brought (the evaluation transcribes them)
    }
    if candidate.kind == "speech":
        row.update(
            transcript=candidate.transcript.strip(), voice=candidate.voice, **{"class": "speech"}
        )
    else:
        row.update(captions=candidate.captions)
    return row


def import_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    fmt: str = "auto",
    valid_fraction: float = 0.05,
    voice: str | None = None,
    text_kind: str = "transcript",
    max_seconds: float = MAX_SECONDS,
    progress: bool = True,
) -> ImportReport:
    """Write the manifest ``out`` for the dataset in ``src``; see the module docstring."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise InvalidInputError(f"{src} is not a folder; pass the dataset's root folder.")
    if not 0 <= valid_fraction < 1:
        raise InvalidInputError(f"valid_fraction must be in [0, 1), got {valid_fraction}.")
    if text_kind not in ("transcript", "caption"):
        raise InvalidInputError(f"text_kind must be transcript or caption, got {text_kind!r}.")
    fmt = detect_format(src) if fmt == "auto" else fmt
    readers = {
        "ljspeech": lambda: read_ljspeech(src, voice),
        "commonvoice": lambda: read_commonvoice(src),
        "captions": lambda: read_captions(src),
        "folder": lambda: read_folder(src, text_kind, voice),
    }
    if fmt not in readers:
        raise InvalidInputError(f"format must be auto or one of {list(FORMATS)}, got {fmt!r}.")
    candidates = sorted(readers[fmt](), key=lambda c: c.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, failures, seen = [], [], set()
    for candidate in tqdm(candidates, desc=f"import {fmt}", unit="clip", disable=not progress):
        try:
            if candidate.id in seen:
                raise InvalidInputError("the id appears twice")
            row = check_candidate(candidate, out.parent, max_seconds)
        except (TokgenError, OSError, RuntimeError, ValueError) as err:  # a bad row, never fatal
            failures.append(ImportFailure(candidate.id, str(err)))
            continue
        seen.add(candidate.id)
        rows.append({**row, "split": split_of(candidate.id, valid_fraction)})
    if not rows:
        first = f"; the first: {failures[0].id}: {failures[0].reason}" if failures else ""
        raise InvalidInputError(f"{src}: no usable {fmt} rows ({len(failures)} failed{first}).")
    atomic_write_text(out, "".join(json.dumps(row) + "\n" for row in rows))
    for split in ("train", "valid"):  # NAME.train.jsonl / NAME.valid.jsonl beside it
        part = [row for row in rows if row["split"] == split]
        text = "".join(json.dumps(row) + "\n" for row in part)
        atomic_write_text(split_manifest(out, split), text)
    hours = sum(row["duration"] for row in rows) / 3600
    return ImportReport(out, fmt, len(rows), failures, hours)
