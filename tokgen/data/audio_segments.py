"""Fixed-length random audio segments from a manifest or a folder, for codec training."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from torch.utils.data import Dataset

from tokgen import audio as audio_io
from tokgen.data.manifest import read_manifest
from tokgen.errors import ConfigError, InvalidInputError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}


def list_audio(source: str | Path) -> list[Path]:
    """Audio files of a JSONL manifest (rows with ``path``, relative to it) or a folder."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    elif source.is_file():
        try:
            files = [source.parent / row["path"] for row in read_manifest(source, purpose="train")]
        except InvalidInputError as err:
            raise ConfigError(f"training data: {err}") from err
    else:
        raise ConfigError(f"training data {source} is neither a manifest file nor a folder.")
    if not files:
        raise ConfigError(f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in {source}.")
    return files


class AudioSegmentDataset(Dataset):
    """Items are ``[C, S]`` float segments of ``segment_seconds`` at ``sample_rate``.

    Index with ``(file_index, seed)``: the seed picks the crop, so an epoch's data is a
    pure function of the sampler's output and a resumed run sees exactly the same batches.
    Clips shorter than a segment are zero-padded at the end.
    """

    def __init__(
        self, source: str | Path, sample_rate: int, channels: int, segment_seconds: float
    ) -> None:
        self.files = list_audio(source)
        self.sample_rate = sample_rate
        self.channels = channels
        self.segment_seconds = segment_seconds
        self.segment = round(segment_seconds * sample_rate)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, seed = key
        path = self.files[index]
        frames, rate = audio_io.info(path)
        spare = max(0.0, frames / rate - self.segment_seconds)
        offset = random.Random(seed).uniform(0.0, spare)
        clip = audio_io.load(
            path,
            target_sample_rate=self.sample_rate,
            channels=self.channels,
            offset=offset,
            duration=self.segment_seconds,
        )
        wav = clip.samples[0, :, : self.segment]  # [C, <=S]
        return torch.nn.functional.pad(wav, (0, self.segment - wav.shape[-1]))  # [C, S]
