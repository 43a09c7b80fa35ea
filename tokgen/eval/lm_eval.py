"""``tokgen eval tts|tta|lass|enhance|continuation``: a generative model on a held-out manifest.

* tts: for flite/festival sentences, the pocketsphinx WER of generated speech next to the
  WER of the real recordings of the same sentences; the voice prompt is another test clip
  of the same voice; the judge's voice similarity (cosine of embeddings) and how often it
  gives the generated clip the voice it gives the prompt.
* tta: the judge's class accuracy on audio generated from each clip's caption, and the
  Fréchet distance of judge embeddings between generated and real clips.
* lass: SI-SDR improvement of the separated source over the mixture (masked and
  resynthesized), next to the ceilings the codec allows (the true source after encode and
  decode) and the ideal ratio mask.
* enhance: the same for the YAML task ``enhance`` on noisy speech (``tokgen data noisy``).
* continuation: how often the judge gives the continuation the class (and, for speech,
  the voice) it gives the prompt.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from tokgen.data.manifest import read_manifest
from tokgen.decoders import apply_mask
from tokgen.eval import metrics, report
from tokgen.eval.codec_eval import ASR_ENGINES
from tokgen.eval.judge import AudioJudge, frechet_distance, load_mono
from tokgen.pipeline import TokgenModel

CONTINUATION_PROMPT_SECONDS = 2.0
CONTINUATION_SECONDS = 3.0
TTA_SECONDS = 4.0
EXAMPLES = 3  # items pictured in a report


@dataclass
class TaskEvalResult:
    task: str
    items: int
    scores: dict[str, float]  # the summary numbers
    per_item: list[dict[str, Any]] = field(default_factory=list)
    # the first EXAMPLES items as (item id, panels), for the report's pictures
    examples: list[report.Example] = field(default_factory=list, repr=False)
    sample_rate: int = 16_000
    # the summary numbers per group of items (tts: per voice), for finding where a model fails
    groups: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("examples", "sample_rate")}


def _keep(examples: list[report.Example], item_id: str, panels: list[report.Panel]) -> None:
    """Keep ``panels`` of ``item_id`` for the report while fewer than EXAMPLES are kept."""
    if len(examples) < EXAMPLES:
        examples.append((item_id, [(title, wav.detach().cpu()) for title, wav in panels]))


def _rows(
    manifest: str | Path,
    kinds: tuple[str, ...],
    limit: int | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda row: True,
) -> list[dict[str, Any]]:
    """The manifest's rows of ``kinds`` that ``keep`` accepts, the first ``limit`` of them."""
    rows = read_manifest(manifest, purpose="evaluation")
    rows = [r for r in rows if r["kind"] in kinds and keep(r)]
    return rows[:limit] if limit else rows


def _mono(out: Any, i: int = 0) -> torch.Tensor:
    return out.audio[i, 0, : out.lengths[i]]


def eval_tts(
    model: TokgenModel,
    judge: AudioJudge,
    manifest: str | Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    **sampling: Any,
) -> TaskEvalResult:
    root = Path(manifest).parent
    rows = _rows(
        manifest, ("speech",), keep=lambda r: r.get("engine") in ASR_ENGINES and r.get("transcript")
    )
    by_voice: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_voice.setdefault(row["voice"], []).append(row)
    rng = random.Random(seed)
    items = [r for r in rows if len(by_voice[r["voice"]]) > 1][:limit]
    transcriber = metrics.Transcriber()
    per_item, generated, real, references, examples = [], [], [], [], []
    for i, row in enumerate(tqdm(items, desc="eval tts")):
        prompt = rng.choice([r for r in by_voice[row["voice"]] if r is not row])
        out = model.generate(
            "tts",
            row["transcript"],
            prompt_audio=str(root / prompt["path"]),
            seed=seed + i,
            **sampling,
        )
        wav = _mono(out)
        prompt_wav = load_mono(root / prompt["path"], judge.config.sample_rate)
        recording = load_mono(root / row["path"], 16_000)
        (_, voices, emb) = judge.judge([wav, prompt_wav, recording])
        generated.append(transcriber.transcribe(wav, model.sample_rate))
        real.append(transcriber.transcribe(recording, 16_000))
        references.append(row["transcript"])
        panels = [("voice prompt", prompt_wav), ("generated", wav), ("real recording", recording)]
        _keep(examples, row["id"], panels)
        per_item.append(
            {
                "id": row["id"],
                "prompt": prompt["id"],
                "voice_similarity": float(torch.cosine_similarity(emb[0], emb[1], dim=0)),
                "same_voice": voices[0] == voices[1],
                "same_voice_real": voices[2] == voices[1],  # the ceiling: the real recording
                "hypothesis": generated[-1],
                "voice": row["voice"],
                "real_hypothesis": real[-1],
            }
        )
    scores = {
        "wer_generated": metrics.word_error_rate(references, generated),
        "wer_real": metrics.word_error_rate(references, real),
        "voice_similarity": statistics.mean(p["voice_similarity"] for p in per_item),
        "same_voice_rate": statistics.mean(float(p["same_voice"]) for p in per_item),
        "same_voice_real": statistics.mean(float(p["same_voice_real"]) for p in per_item),
    }
    groups = {}
    for voice in sorted({p["voice"] for p in per_item}):
        mine = [(p, ref) for p, ref in zip(per_item, references) if p["voice"] == voice]
        refs = [ref for _, ref in mine]
        groups[voice] = {
            "items": float(len(mine)),
            "wer_generated": metrics.word_error_rate(refs, [p["hypothesis"] for p, _ in mine]),
            "wer_real": metrics.word_error_rate(refs, [p["real_hypothesis"] for p, _ in mine]),
            "same_voice_rate": statistics.mean(float(p["same_voice"]) for p, _ in mine),
            "same_voice_real": statistics.mean(float(p["same_voice_real"]) for p, _ in mine),
        }
    return TaskEvalResult(
        "tts", len(items), scores, per_item, examples, model.sample_rate, groups=groups
    )


def eval_tta(
    model: Any,
    judge: AudioJudge,
    manifest: str | Path,
    *,
    captions: str | Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    **sampling: Any,
) -> TaskEvalResult:
    """Judge class accuracy of audio generated from the test clips' captions (or from
    ``captions``: a JSONL of freshly written ``{"caption", "class"}`` lines) and the Fréchet
    distance of judge embeddings to the real clips; beside them, the accuracy on the real
    clips and on the real clips passed through the model's own representation
    (``ceiling_class_accuracy``: what a perfect generator could reach)."""
    root = Path(manifest).parent
    rows = _rows(
        manifest, ("music", "sound_event"), limit, keep=lambda r: r["class"] in judge.config.classes
    )
    rng = random.Random(seed)
    if captions is None:
        items = [(row["id"], rng.choice(row["captions"]), row["class"]) for row in rows]
    else:
        written = read_manifest(captions, purpose="evaluate", fields=("caption", "class"))
        items = [(f"caption-{i}", r["caption"], r["class"]) for i, r in enumerate(written)]
        items = items[:limit] if limit else items
    per_item, generated, examples = [], [], []
    for i, (item_id, caption, label) in enumerate(tqdm(items, desc="eval tta")):
        out = model.generate("tta", caption, duration=TTA_SECONDS, seed=seed + i, **sampling)
        generated.append(_mono(out))
        per_item.append({"id": item_id, "caption": caption, "class": label})
    real = [load_mono(root / row["path"], judge.config.sample_rate) for row in rows]
    for i, (item_id, caption, label) in enumerate(items[:EXAMPLES]):
        panels = [(f"generated: {caption}", generated[i])]
        if captions is None:  # the clip whose caption it was
            panels.append((f"a real clip: {label}", real[i]))
        _keep(examples, item_id, panels)
    coded = [model.reconstruct(wav, judge.config.sample_rate) for wav in real]
    classes, _, gen_emb = judge.judge(generated)
    real_classes, _, real_emb = judge.judge(real)
    coded_classes, _, _ = judge.judge(coded)
    for item, predicted in zip(per_item, classes):
        item["judged"] = predicted
    labels = [row["class"] for row in rows]
    scores = {
        "class_accuracy": _accuracy(classes, [p["class"] for p in per_item]),
        "classes": float(len({p["class"] for p in per_item})),
        "frechet_distance": frechet_distance(gen_emb, real_emb),
        "real_class_accuracy": _accuracy(real_classes, labels),
        "ceiling_class_accuracy": _accuracy(coded_classes, labels),
    }
    return TaskEvalResult("tta", len(items), scores, per_item, examples, model.sample_rate)


def _accuracy(predicted: list[str], labels: list[str]) -> float:
    return statistics.mean(float(p == y) for p, y in zip(predicted, labels)) if labels else 0.0


def eval_lass(
    model: TokgenModel,
    manifest: str | Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    **sampling: Any,
) -> TaskEvalResult:
    """SI-SDR improvement over the mixture of: the model's output (``si_sdri``: its decoder,
    by default the mixture masked by the generated source), the generated codes resynthesized
    by the codec (``resynthesis_si_sdri``), the true source through the codec, masked and
    resynthesized (``ceiling_mask_si_sdri``, ``ceiling_resynthesis_si_sdri``: what a perfect
    model could reach), and the ideal ratio mask of the true source (``ideal_mask_si_sdri``).
    Every source of every mixture row is queried (``tokgen data noisy`` rows too: the speech
    and its noise)."""
    root = Path(manifest).parent
    rate = model.sample_rate
    rows = _rows(manifest, ("mixture", "noisy_speech"), limit)
    per_item, examples = [], []
    for i, row in enumerate(tqdm(rows, desc="eval lass")):
        mixture = load_mono(root / row["path"], rate)
        for j, source in enumerate(row["sources"]):
            truth = load_mono(root / source["path"], rate)
            out = model.generate("lass", source["query"], audio=(mixture, rate), seed=seed + i,
                                 **sampling)  # fmt: skip
            item = {"id": f"{row['id']}/{j}", "query": source["query"]}
            mix = _fit(mixture, truth.shape[0])
            panels = _score_source(model, item, out, truth, mix, f"true source: {source['query']}")
            per_item.append(item)
            _keep(examples, item["id"], panels)
    return TaskEvalResult("lass", len(per_item), _means(per_item), per_item, examples, rate)


def eval_enhance(
    model: TokgenModel,
    manifest: str | Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    **sampling: Any,
) -> TaskEvalResult:
    """The YAML task ``enhance`` (``lm/tasks/enhance.yaml``) on ``tokgen data noisy`` rows:
    SI-SDR improvement over the noisy clip of the generated clean speech used as a mask on
    the noisy clip (``si_sdri``) and resynthesized (``resynthesis_si_sdri``), beside the
    same ceilings as :func:`eval_lass` (the clean speech through the codec; the ideal
    ratio mask)."""
    root = Path(manifest).parent
    rate = model.sample_rate
    per_item, examples = [], []
    for i, row in enumerate(tqdm(_rows(manifest, ("noisy_speech",), limit), desc="eval enhance")):
        clean = load_mono(root / row["clean_path"], rate)
        noisy = _fit(load_mono(root / row["path"], rate), clean.shape[0])
        out = model.generate("enhance", audio=(noisy, rate), seed=seed + i, **sampling)
        item = {"id": row["id"], "snr_db": row["sources"][1]["snr_db"]}
        panels = _score_source(model, item, out, clean, noisy, "true source", mask_output=True)
        per_item.append(item)
        _keep(examples, item["id"], panels)
    return TaskEvalResult("enhance", len(per_item), _means(per_item), per_item, examples, rate)


def _score_source(
    model: TokgenModel,
    item: dict[str, Any],
    out: Any,
    truth: torch.Tensor,
    mix: torch.Tensor,
    truth_title: str,
    *,
    mask_output: bool = False,
) -> list[report.Panel]:
    """Add to ``item`` the SI-SDR improvements over ``mix [T]`` of the estimates of ``truth
    [T]`` that :func:`eval_lass` names; ``mask_output``: the output is the model's codes as
    a mask on ``mix`` (else the model's audio, which its decoder made). The report's panels
    (``truth`` titled ``truth_title``)."""
    codec, length = model.codec, truth.shape[0]
    frames = -(-out.lengths[0] // codec.hop_length)  # ceil: a separator keeps T
    resynthesis = codec.decode(out.codes[:1, :, :frames], length=length)[0, 0]
    coded = codec.decode(codec.encode(truth, model.sample_rate), length=length)[0, 0]
    estimates = {
        "si_sdri": (
            apply_mask(resynthesis[None], mix[None])[0] if mask_output else _fit(_mono(out), length)
        ),
        "resynthesis_si_sdri": resynthesis,
        "ceiling_mask_si_sdri": apply_mask(coded[None], mix[None])[0],
        "ceiling_resynthesis_si_sdri": coded,
        "ideal_mask_si_sdri": apply_mask(truth[None], mix[None])[0],
    }
    base = metrics.si_sdr(truth, mix)
    item.update({k: metrics.si_sdr(truth, est) - base for k, est in estimates.items()})
    return [("mixture", mix), (truth_title, truth),
            ("separated (masked)", estimates["si_sdri"]), ("resynthesized", resynthesis)]  # fmt: skip


def _means(per_item: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of every ``*si_sdri`` score over the items."""
    names = [k for k in per_item[0] if k.endswith("si_sdri")] if per_item else []
    return {k: statistics.mean(p[k] for p in per_item) for k in names}


def eval_continuation(
    model: Any,
    judge: AudioJudge,
    manifest: str | Path,
    *,
    kinds: tuple[str, ...] = ("speech", "music", "sound_event"),
    limit: int | None = None,
    seed: int = 0,
    **sampling: Any,
) -> TaskEvalResult:
    root = Path(manifest).parent
    rate = model.sample_rate
    rows = _rows(
        manifest,
        kinds,
        limit,
        keep=lambda r: r["duration"] >= CONTINUATION_PROMPT_SECONDS + 0.5,
    )
    per_item, prompts, continuations, examples = [], [], [], []
    for i, row in enumerate(tqdm(rows, desc="eval continuation")):
        prompt = load_mono(root / row["path"], rate)[: round(CONTINUATION_PROMPT_SECONDS * rate)]
        out = model.generate(
            "continuation",
            audio=(prompt, rate),
            duration=CONTINUATION_SECONDS,
            seed=seed + i,
            **sampling,
        )
        prompts.append(prompt)
        continuations.append(_mono(out))
        per_item.append({"id": row["id"], "kind": row["kind"]})
        _keep(examples, row["id"], [("prompt", prompt), ("continuation", continuations[-1])])
    prompt_classes, prompt_voices, _ = judge.judge(prompts)
    classes, voices, _ = judge.judge(continuations)
    for k, item in enumerate(per_item):
        same = classes[k] == prompt_classes[k]
        if item["kind"] == "speech":
            same = same and voices[k] == prompt_voices[k]
        item["consistent"] = same
    scores = {"consistency": statistics.mean(float(p["consistent"]) for p in per_item)}
    return TaskEvalResult("continuation", len(per_item), scores, per_item, examples, rate)


def _fit(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Trim or zero-pad ``[T]`` to ``length`` samples."""
    if wav.shape[0] >= length:
        return wav[:length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[0]))


def write_report(result: TaskEvalResult, json_path: str | Path) -> list[Path]:
    """The scores as JSON at ``json_path`` and, next to it, ``NAME.md`` with the table and
    a spectrogram PNG per kept example (:func:`tokgen.eval.report.write_report`)."""
    return report.write_report(
        json_path,
        result.as_dict(),
        format_result(result),
        title=f"tokgen eval {result.task}",
        examples=result.examples,
        sample_rate=result.sample_rate,
    )


def format_result(result: TaskEvalResult) -> str:
    lines = [f"| {result.task} ({result.items} items) | value |", "| --- | --- |"]
    lines += [f"| {name} | {value:.3f} |" for name, value in result.scores.items()]
    if result.groups:
        names = list(next(iter(result.groups.values())))
        lines += ["", "| group | " + " | ".join(names) + " |", "| --- |" + " --: |" * len(names)]
        lines += [f"| {group} | " + " | ".join(f"{v:.3f}" if k != "items" else f"{v:.0f}"
                                               for k, v in values.items()) + " |"
                  for group, values in result.groups.items()]  # fmt: skip
    return "\n".join(lines)
