"""Codec reconstruction quality on a held-out JSONL manifest (``tokgen eval codec``).

Every clip is encoded and decoded at the codec's rate and channels; metrics compare the
mono down-mix of the input and of the reconstruction (:mod:`tokgen.eval.metrics`):

* every item: SI-SDR, log-mel distance, multi-resolution STFT distance, averaged per
  ``kind`` (speech, music, sound_event, mixture) and overall;
* speech from voices pocketsphinx recognizes well (engine flite or festival, with a
  transcript): STOI, PESQ-WB, and the WER of the decoded audio next to the WER of the
  original audio, both against the manifest transcript;
* music and sound events with a ``class``: the shipped audio judge's class accuracy on the
  originals and on the reconstructions, and their ratio (how recognisable the codec keeps
  non-speech audio);
* bitrate, and the encode+decode speed on a 10 s clip built from the manifest's items.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from tokgen import audio as audio_io
from tokgen.data.manifest import read_manifest
from tokgen.errors import InvalidInputError
from tokgen.eval import metrics, report

if TYPE_CHECKING:
    from tokgen.codecs import Codec

JUDGE_KINDS = ("music", "sound_event")
ASR_ENGINES = ("flite", "festival", "human", "imported")
"""Speech pocketsphinx recognizes reliably: flite and festival voices (WER ≈ 0-0.2 on clean
audio), recorded human speech (``tokgen data real-speech``) and a user's own recordings
(``tokgen data import``)."""

SPEED_CLIP_SECONDS = 10.0
SPEED_REPEATS = 3


@dataclass(frozen=True)
class ManifestItem:
    """One row of a manifest; ``path`` is resolved against the manifest's folder."""

    id: str
    path: Path
    kind: str
    engine: str | None = None
    transcript: str | None = None
    label: str | None = None  # the row's ``class``

    @property
    def judged_by_asr(self) -> bool:
        """Speech whose intelligibility pocketsphinx can judge."""
        return self.kind == "speech" and self.engine in ASR_ENGINES and bool(self.transcript)


@dataclass
class SpeechScores:
    """Intelligibility of one speech item; ``stoi``/``pesq_wb`` are NaN where undefined."""

    stoi: float
    pesq_wb: float
    transcript: str
    hypothesis_original: str  # pocketsphinx on the codec's input
    hypothesis_decoded: str  # pocketsphinx on the reconstruction


@dataclass
class ItemScores:
    """Scores of one manifest item."""

    id: str
    kind: str
    duration: float  # seconds
    si_sdr: float  # dB, higher is better
    mel_distance: float  # lower is better
    mrstft_distance: float  # lower is better
    speech: SpeechScores | None = None
    judged: tuple[str, str] | None = None  # judge's class for (original, decoded)


@dataclass
class GroupSummary:
    """Mean scores over ``items`` items."""

    items: int
    si_sdr: float
    mel_distance: float
    mrstft_distance: float


@dataclass
class IntelligibilitySummary:
    """Speech intelligibility over ``items`` flite/festival items; means skip NaN scores."""

    items: int
    stoi: float
    pesq_wb: float
    stoi_failed: int  # items with undefined STOI (too few non-silent frames)
    pesq_failed: int  # items with undefined PESQ (no utterance detected, < 1/4 s)
    wer_original: float  # corpus WER of pocketsphinx on the original audio
    wer_decoded: float  # ... on the decoded audio


@dataclass
class JudgeSummary:
    """The audio judge's class accuracy on ``items`` music / sound-event clips."""

    items: int
    accuracy_original: float
    accuracy_decoded: float
    ratio: float  # decoded / original accuracy (1 = as recognisable as the input)


@dataclass
class SpeedSummary:
    """Encode+decode wall time of one ``clip_seconds`` clip at batch 1 (median of repeats)."""

    clip_seconds: float
    median_s: float
    real_time: float  # x faster than real time: clip_seconds / median_s


@dataclass
class CodecEvalResult:
    """Everything ``evaluate_codec`` measured; ``to_dict`` is the JSON form."""

    codec: str
    manifest: str
    sample_rate: int
    num_codebooks: int
    cardinality: int
    frame_rate: float
    bitrate_kbps: float  # num_codebooks * log2(cardinality) * frame_rate / 1000
    by_kind: dict[str, GroupSummary]
    overall: GroupSummary
    intelligibility: IntelligibilitySummary | None  # None without flite/festival speech
    recognition: JudgeSummary | None  # None without music / sound events or without a judge
    speed: SpeedSummary
    items: list[ItemScores]
    # the first item of each kind: (id, [("original", [T]), ("decoded", [T])]), for pictures
    examples: list[report.Example] = dataclasses.field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; NaN scores become ``None`` (JSON has no NaN)."""
        data = dataclasses.asdict(dataclasses.replace(self, examples=[]))
        del data["examples"]
        return _finite_or_none(data)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    return value


def read_items(path: str | Path) -> list[ManifestItem]:
    """Rows of a JSONL manifest with a ``kind`` whose audio file exists (paths relative to it).

    Raises :class:`InvalidInputError` naming the bad line or the missing file.
    """
    root = Path(path).parent

    def check(row: dict) -> str | None:
        if "kind" not in row:
            return "a manifest row needs a 'kind'"
        if not (root / row["path"]).is_file():
            return f"audio file {root / row['path']} not found (paths are relative to the manifest)"
        return None

    return [
        ManifestItem(
            id=str(row.get("id", row["path"])),
            path=root / row["path"],
            kind=str(row["kind"]),
            engine=row.get("engine"),
            transcript=row.get("transcript"),
            label=row.get("class"),
        )
        for row in read_manifest(path, check=check, purpose="evaluate")
    ]


def evaluate_codec(
    codec: Codec,
    manifest_path: str | Path,
    *,
    num_codebooks: int | None = None,
    limit: int | None = None,
    speed_seconds: float = SPEED_CLIP_SECONDS,
    judge: str | Path | None = "tokgen-judge",
    kinds: list[str] | None = None,
    progress: bool = True,
) -> CodecEvalResult:
    """Encode+decode every item of ``manifest_path`` with ``codec`` and score it.

    ``num_codebooks`` (default: the codec's) sets the bitrate; ``limit`` evaluates only
    the first rows; ``speed_seconds`` is the length of the timing clip (shorten it for
    codecs far slower than real time); ``judge`` is the audio judge (name or directory)
    that scores music and sound events, None to skip; ``kinds`` keeps only rows of those
    kinds. See the module docstring.
    """
    count = codec.check_num_codebooks(
        codec.num_codebooks if num_codebooks is None else num_codebooks
    )
    if limit is not None and limit < 1:
        raise InvalidInputError(f"limit must be at least 1, got {limit}.")
    if speed_seconds <= 0:
        raise InvalidInputError(f"speed_seconds must be positive, got {speed_seconds}.")
    items = [i for i in read_items(manifest_path) if kinds is None or i.kind in kinds][:limit]
    if not items:
        raise InvalidInputError(f"{manifest_path} has no rows of kind {kinds}.")
    transcriber = metrics.Transcriber() if any(i.judged_by_asr for i in items) else None
    audio_judge = None
    if judge is not None and any(_judged(i) for i in items):
        from tokgen.eval.judge import load_judge

        audio_judge = load_judge(judge)
    rows = tqdm(items, desc=f"eval {codec.name}", unit="clip", disable=not progress)
    scores, examples = [], []
    for item in rows:
        score, ref, est = _score_item(codec, item, count, transcriber, audio_judge)
        if score.kind not in {s.kind for s in scores}:
            examples.append((f"{score.kind} {score.id}", [("original", ref), ("decoded", est)]))
        scores.append(score)
    kinds = sorted({s.kind for s in scores})
    return CodecEvalResult(
        codec=codec.name,
        manifest=str(manifest_path),
        sample_rate=codec.sample_rate,
        num_codebooks=count,
        cardinality=codec.cardinality,
        frame_rate=codec.frame_rate,
        bitrate_kbps=codec.bandwidth_for(count),
        by_kind={kind: _summarize([s for s in scores if s.kind == kind]) for kind in kinds},
        overall=_summarize(scores),
        intelligibility=_summarize_speech([s.speech for s in scores if s.speech is not None]),
        recognition=_summarize_judged(scores, {i.id: i.label for i in items}),
        speed=measure_speed(codec, items, count, seconds=speed_seconds),
        items=scores,
        examples=examples,
    )


def _load(codec: Codec, item: ManifestItem) -> audio_io.Audio:
    return audio_io.load(item.path, target_sample_rate=codec.sample_rate, channels=codec.channels)


def _judged(item: ManifestItem) -> bool:
    return item.kind in JUDGE_KINDS and bool(item.label)


def _score_item(
    codec: Codec,
    item: ManifestItem,
    num_codebooks: int,
    transcriber: metrics.Transcriber | None,
    judge: Any | None,
) -> tuple[ItemScores, torch.Tensor, torch.Tensor]:
    """The item's scores, and its original and decoded audio (channel means ``[T]``)."""
    clip = _load(codec, item)  # [1, C, T]
    codes = codec.encode(clip, num_codebooks=num_codebooks)  # [1, K, F]
    decoded = codec.decode(codes, length=clip.num_samples)  # [1, C, T]
    ref, est = clip.samples[0].mean(0), decoded[0].cpu().mean(0)  # channel means [T]
    rate = codec.sample_rate
    speech = None
    if transcriber is not None and item.judged_by_asr:
        speech = SpeechScores(
            stoi=metrics.stoi(ref, est, rate),
            pesq_wb=metrics.pesq_wb(ref, est, rate),
            transcript=metrics.normalize_text(item.transcript or ""),
            hypothesis_original=transcriber.transcribe(ref, rate),
            hypothesis_decoded=transcriber.transcribe(est, rate),
        )
    judged = None
    if judge is not None and _judged(item):
        judged = tuple(judge.judge(_at_rate([ref, est], rate, judge.config.sample_rate))[0])
    scores = ItemScores(
        id=item.id,
        kind=item.kind,
        duration=clip.duration,
        si_sdr=metrics.si_sdr(ref, est),
        mel_distance=metrics.mel_distance(ref, est, rate),
        mrstft_distance=metrics.multi_resolution_stft_distance(ref, est),
        speech=speech,
        judged=judged,
    )
    return scores, ref, est


def _at_rate(wavs: list[torch.Tensor], rate: int, target: int) -> list[torch.Tensor]:
    """Mono clips ``[T]`` resampled from ``rate`` to ``target``."""
    return [audio_io.load(w, rate, target_sample_rate=target).samples[0, 0] for w in wavs]


def _summarize_judged(
    scores: list[ItemScores], labels: dict[str, str | None]
) -> JudgeSummary | None:
    judged = [s for s in scores if s.judged is not None]
    if not judged:
        return None
    original = statistics.fmean(s.judged[0] == labels[s.id] for s in judged)
    decoded = statistics.fmean(s.judged[1] == labels[s.id] for s in judged)
    ratio = decoded / original if original else math.nan
    return JudgeSummary(len(judged), original, decoded, ratio)


def _mean(values: Iterable[float]) -> float:
    """Mean of the finite values; NaN if there are none."""
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


def _summarize(scores: list[ItemScores]) -> GroupSummary:
    return GroupSummary(
        items=len(scores),
        si_sdr=_mean(s.si_sdr for s in scores),
        mel_distance=_mean(s.mel_distance for s in scores),
        mrstft_distance=_mean(s.mrstft_distance for s in scores),
    )


def _summarize_speech(scores: list[SpeechScores]) -> IntelligibilitySummary | None:
    if not scores:
        return None
    references = [s.transcript for s in scores]
    return IntelligibilitySummary(
        items=len(scores),
        stoi=_mean(s.stoi for s in scores),
        pesq_wb=_mean(s.pesq_wb for s in scores),
        stoi_failed=sum(math.isnan(s.stoi) for s in scores),
        pesq_failed=sum(math.isnan(s.pesq_wb) for s in scores),
        wer_original=metrics.word_error_rate(references, [s.hypothesis_original for s in scores]),
        wer_decoded=metrics.word_error_rate(references, [s.hypothesis_decoded for s in scores]),
    )


def measure_speed(
    codec: Codec,
    items: list[ManifestItem],
    num_codebooks: int,
    *,
    seconds: float = SPEED_CLIP_SECONDS,
    repeats: int = SPEED_REPEATS,
) -> SpeedSummary:
    """Median encode+decode time of a ``seconds`` clip of the items (cycled), after a warm-up."""
    clip = _concatenate(codec, items, round(seconds * codec.sample_rate))  # [1, C, S]
    times = []
    for _ in range(repeats + 1):  # the first round warms up
        start = time.perf_counter()
        codes = codec.encode(clip, codec.sample_rate, num_codebooks=num_codebooks)
        codec.decode(codes, length=clip.shape[-1])
        times.append(time.perf_counter() - start)
    median = statistics.median(times[1:])
    return SpeedSummary(clip_seconds=seconds, median_s=median, real_time=seconds / median)


def _concatenate(codec: Codec, items: list[ManifestItem], num_samples: int) -> torch.Tensor:
    """The items' audio end to end (repeating them if short), cut to ``[1, C, num_samples]``."""
    pieces, total = [], 0
    for item in itertools.cycle(items):
        pieces.append(_load(codec, item).samples)  # [1, C, T]
        total += pieces[-1].shape[-1]
        if total >= num_samples:
            break
    return torch.cat(pieces, dim=-1)[..., :num_samples]


def format_markdown(result: CodecEvalResult) -> str:
    """The result as Markdown: a header line, a per-kind table, an intelligibility table."""
    speed = result.speed
    lines = [
        f"### {result.codec} on {result.manifest}",
        "",
        f"{result.bitrate_kbps:g} kbps ({result.num_codebooks} codebooks x {result.cardinality} "
        f"entries x {result.frame_rate:g} Hz); encode+decode of {speed.clip_seconds:g} s: "
        f"{speed.median_s:.3f} s ({speed.real_time:.1f}x real time)",
        "",
        "| kind | items | SI-SDR dB ↑ | mel distance ↓ | MR-STFT distance ↓ |",
        "| :-- | --: | --: | --: | --: |",
    ]
    groups = [*result.by_kind.items(), ("**overall**", result.overall)]
    for name, g in groups:
        lines.append(
            f"| {name} | {g.items} | {g.si_sdr:.2f} | {g.mel_distance:.3f} | {g.mrstft_distance:.3f} |"
        )
    speech = result.intelligibility
    if speech is not None:
        lines += [
            "",
            "| speech (flite, festival, human) | items | STOI ↑ | PESQ-WB ↑ | WER original ↓ | WER decoded ↓ |",
            "| :-- | --: | --: | --: | --: | --: |",
            f"| intelligibility | {speech.items} | {speech.stoi:.3f} | {speech.pesq_wb:.2f} "
            f"| {speech.wer_original:.3f} | {speech.wer_decoded:.3f} |",
            "",
            f"STOI undefined for {speech.stoi_failed}, PESQ-WB for {speech.pesq_failed} of "
            f"{speech.items} items (too short or no speech found); the means skip them.",
        ]
    judged = result.recognition
    if judged is not None:
        lines += [
            "",
            "| music + sound events | items | judge accuracy original | decoded | ratio ↑ |",
            "| :-- | --: | --: | --: | --: |",
            f"| recognition | {judged.items} | {judged.accuracy_original:.3f} "
            f"| {judged.accuracy_decoded:.3f} | {judged.ratio:.3f} |",
        ]
    return "\n".join(lines)
