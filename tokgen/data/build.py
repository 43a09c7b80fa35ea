"""``tokgen data build``: the synthetic multi-domain corpus (speech, music, events, mixtures).

The build is a pure function of ``(hours, seed)``: :func:`plan_corpus` lays out every clip
(its text, voice, MIDI seed, captions, split...), then each clip is rendered by
:mod:`tokgen.data.render`. Finished clips are skipped on a rerun, so an interrupted build
resumes; manifests are written last, from the clips that exist.

Splits: about 90 / 5 / 5 % train / valid / test by position, with no sentence, MIDI seed
or mixture shared between splits. The voices and instruments in :data:`HELD_OUT_*` appear
in the test split only; mixtures only combine clips of one split.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
from tqdm import tqdm

from tokgen.data import captions, midi
from tokgen.data.render import SAMPLE_RATE, render_clip, render_mixture
from tokgen.data.sentences import unique_sentences
from tokgen.data.system_tools import FREEDESKTOP_SOUNDS, require
from tokgen.data.voices import VOICES
from tokgen.errors import InvalidInputError, TokgenError
from tokgen.hub import atomic_write_text

SPLITS = ("train", "valid", "test")
# share of the requested hours per kind (estimated when planning, measured in the summary)
SHARES = {"speech": 0.55, "music": 0.21, "sound_event": 0.14, "mixture": 0.10}
HELD_OUT_INSTRUMENTS = ("oboe", "vibraphone")
MIN_ITEMS = 4  # per kind, so that tiny builds still hold every kind
BUILD_FILE = "build.json"

# freedesktop sound file stem prefix -> class label
FREEDESKTOP_CLASSES: dict[str, str] = {
    "alarm-clock": "alarm clock",
    "audio-channel": "spoken announcement",
    "audio-test-signal": "test tone",
    "audio-volume-change": "click",
    "bell": "bell",
    "camera-shutter": "camera shutter",
    "complete": "notification chime",
    "device": "notification chime",
    "dialog-error": "error beep",
    "dialog-information": "notification chime",
    "dialog-warning": "error beep",
    "message": "message alert",
    "network": "notification chime",
    "phone-incoming": "phone ringing",
    "phone-outgoing-busy": "busy signal",
    "phone-outgoing-calling": "ringback tone",
    "power": "plug sound",
    "screen-capture": "camera shutter",
    "service": "notification chime",
    "suspend-error": "error beep",
    "trash-empty": "crumpling paper",
    "window": "notification chime",
}


def split_of(index: int) -> str:
    """Split by position: of every 20 items, #1 goes to test and #2 to valid."""
    return {1: "test", 2: "valid"}.get(index % 20, "train")


def _budget_items(budget_s: float, make: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    """Call ``make(i)`` until the estimated seconds reach ``budget_s`` (at least MIN_ITEMS)."""
    rows: list[dict[str, Any]] = []
    total = 0.0
    while total < budget_s or len(rows) < MIN_ITEMS:
        row = make(len(rows))
        total += row.pop("estimate")
        rows.append(row)
    return rows


def _row(kind: str, index: int, split: str, engine: str, label: str, **fields: Any) -> dict:
    item_id = f"{kind.replace('_', '-')}-{index:06d}"
    return {
        "id": item_id,
        "path": f"audio/{kind}/{item_id}.wav",
        "kind": kind,
        "split": split,
        "engine": engine,
        "class": label,
        **fields,
    }


def plan_speech(seed: int, budget_s: float) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}:speech")
    sentences = unique_sentences(rng, set())
    weights = [voice.weight for voice in VOICES]

    def make(i: int) -> dict[str, Any]:
        voice = rng.choices(VOICES, weights)[0]
        text = next(sentences)
        split = "test" if voice.held_out else split_of(i)
        return _row(
            "speech", i, split, voice.engine, "speech",
            voice=voice.id,
            transcript=text,
            captions=captions.speech_captions(rng, gender=voice.gender, accent=voice.accent),
            params={"level_db": round(rng.uniform(-12.0, -1.0), 1)},
            estimate=(0.35 * len(text.split()) + 0.4) / voice.tempo,
        )  # fmt: skip

    return _budget_items(budget_s, make)


def _level(rng: random.Random, dynamics: str) -> float:
    base = {"soft": -16.0, "medium": -8.0, "loud": -2.0}[dynamics]
    return round(min(-1.0, base + rng.uniform(-2.0, 2.0)), 1)


def plan_music(seed: int, budget_s: float) -> list[dict[str, Any]]:
    """Melodic instrument clips (3 in 4) and drum-kit grooves."""
    rng = random.Random(f"{seed}:music")
    instruments = sorted(midi.INSTRUMENTS)

    def make(i: int) -> dict[str, Any]:
        seconds = round(rng.uniform(4.0, 10.0), 2)
        bpm = round(rng.uniform(60, 180))
        dynamics = rng.choice(sorted(midi.DYNAMICS))
        params = {
            "midi_seed": rng.getrandbits(48),
            "seconds": seconds,
            "bpm": bpm,
            "dynamics": dynamics,
            "level_db": _level(rng, dynamics),
        }
        if i % 4 == 3:
            style = rng.choice(midi.DRUM_STYLES)
            params |= {"source": "drums", "style": style}
            caps = captions.drum_captions(rng, style=style, bpm=bpm, dynamics=dynamics)
            return _row("music", i, split_of(i), "fluidsynth", "drums", captions=caps,
                        params=params, estimate=seconds)  # fmt: skip
        label = rng.choice(instruments)
        register = rng.choice(midi.registers_for(label))
        scale = rng.choice(sorted(midi.SCALES))
        style = rng.choice(["melody", "melody", "arpeggio", "chords"])
        params |= {"source": "instrument", "register": register, "scale": scale, "style": style}
        caps = captions.music_captions(
            rng, instrument=label, bpm=bpm, register=register, dynamics=dynamics,
            scale=scale, style=style,
        )  # fmt: skip
        split = "test" if label in HELD_OUT_INSTRUMENTS else split_of(i)
        return _row("music", i, split, "fluidsynth", label, captions=caps, params=params,
                    estimate=seconds)  # fmt: skip

    return _budget_items(budget_s, make)


def _freedesktop_class(stem: str) -> str:
    for prefix, label in FREEDESKTOP_CLASSES.items():
        if stem.startswith(prefix):
            return label
    return "notification chime"


def plan_events(seed: int, budget_s: float) -> list[dict[str, Any]]:
    """GM sound effects, single percussion instruments and real freedesktop recordings."""
    rng = random.Random(f"{seed}:events")
    files = sorted(path.name for path in FREEDESKTOP_SOUNDS.glob("*.oga"))
    file_split = {name: split_of(j) for j, name in enumerate(files)}

    def make(i: int) -> dict[str, Any]:
        dynamics = rng.choice(sorted(midi.DYNAMICS))
        roll = i % 3
        if roll == 2 and files:
            name = rng.choice(files)
            params = {
                "file": name,
                "speed": round(rng.uniform(0.75, 1.33), 3),
                "repeats": rng.randint(1, 4),
                "gap": round(rng.uniform(0.1, 1.0), 2),
                "level_db": _level(rng, dynamics),
            }
            label = _freedesktop_class(Path(name).stem)
            caps = captions.event_captions(rng, label=label, dynamics=dynamics, recorded=True)
            return _row("sound_event", i, file_split[name], "freedesktop", label,
                        captions=caps, params=params, estimate=params["repeats"] * 1.5)  # fmt: skip
        seconds = round(rng.uniform(3.0, 8.0), 2)
        params = {
            "midi_seed": rng.getrandbits(48),
            "seconds": seconds,
            "bpm": 120,
            "dynamics": dynamics,
            "level_db": _level(rng, dynamics),
        }
        if roll == 1:
            label = rng.choice(sorted(midi.PERCUSSION))
            params["source"] = "percussion"
        else:
            label = rng.choice(sorted(midi.SOUND_EFFECTS))
            params["source"] = "effect"
        caps = captions.event_captions(rng, label=label, dynamics=dynamics)
        return _row("sound_event", i, split_of(i), "fluidsynth", label, captions=caps,
                    params=params, estimate=seconds)  # fmt: skip

    return _budget_items(budget_s, make)


def plan_mixtures(seed: int, budget_s: float, clips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mixtures of 2 (or 3) clips of different classes from the same split."""
    rng = random.Random(f"{seed}:mixture")
    pools = {split: [row for row in clips if row["split"] == split] for split in SPLITS}
    cycle = ["train"] * 18 + ["test", "valid"]

    def make(i: int) -> dict[str, Any]:
        split = cycle[i % len(cycle)]
        pool = pools[split] or pools["train"]
        split = pool[0]["split"]
        count = 3 if rng.random() < 0.25 else 2
        members: list[dict[str, Any]] = []
        while len(members) < count:
            row = rng.choice(pool)
            if all(row["class"] != other["class"] for other in members):
                members.append(row)
            elif len({r["class"] for r in pool}) < count:
                count -= 1
        mix_id = f"mixture-{i:06d}"
        sources = [
            {
                "id": row["id"],
                "member_path": row["path"],
                "path": f"audio/mixture/{mix_id}-s{j}.wav",
                "class": row["class"],
                "query": rng.choice(row["captions"]),
                "snr_db": 0.0 if j == 0 else round(rng.uniform(-5.0, 5.0), 1),
            }
            for j, row in enumerate(members)
        ]
        return _row(
            "mixture", i, split, "mix", " + ".join(s["class"] for s in sources),
            captions=[" and ".join(s["query"] for s in sources)],
            sources=sources,
            params={"mix_seed": rng.getrandbits(48), "max_seconds": 8.0,
                    "gain": round(rng.uniform(0.3, 1.0), 2)},
            estimate=6.0,
        )  # fmt: skip

    return _budget_items(budget_s, make)


def plan_corpus(hours: float, seed: int) -> list[dict[str, Any]]:
    """Every clip of the corpus, as manifest rows with render ``params`` (no durations yet)."""
    if not hours > 0:
        raise InvalidInputError(f"--hours must be positive, got {hours}.")
    budget = {kind: share * hours * 3600 for kind, share in SHARES.items()}
    clips = (
        plan_speech(seed, budget["speech"])
        + plan_music(seed, budget["music"])
        + plan_events(seed, budget["sound_event"])
    )
    return clips + plan_mixtures(seed, budget["mixture"], clips)


@dataclass
class BuildReport:
    out: Path
    rendered: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)
    summary: dict[str, Any] = field(default_factory=dict)


def _render_one(job: tuple[dict[str, Any], Path]) -> tuple[str, str | None]:
    row, root = job
    try:
        if row["kind"] == "mixture":
            render_mixture(row, root)
        else:
            render_clip(row, root)
    except Exception as err:  # reported per clip by build_corpus, never dropped
        return row["id"], f"{type(err).__name__}: {err}"
    return row["id"], None


def _run_jobs(
    rows: list[dict[str, Any]], root: Path, jobs: int, report: BuildReport, desc: str
) -> None:
    todo = [row for row in rows if not (root / row["path"]).is_file()]
    report.skipped += len(rows) - len(todo)
    work = [(row, root) for row in todo]
    bar = tqdm(total=len(work), desc=desc, unit="clip", disable=None)
    results: Iterable[tuple[str, str | None]]
    if jobs > 1 and len(work) > 1:
        pool = multiprocessing.get_context("fork").Pool(jobs)
        results = pool.imap_unordered(_render_one, work, chunksize=4)
    else:
        pool, results = None, map(_render_one, work)
    try:
        for item_id, error in results:
            bar.update()
            if error is None:
                report.rendered += 1
            else:
                report.failures.append((item_id, error))
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()


def _remove_stale(root: Path) -> None:
    """Remove what an interrupted build left: render folders and partial wavs."""
    for folder in root.glob("audio/*/.render-*"):
        shutil.rmtree(folder, ignore_errors=True)
    for partial in root.glob("audio/*/.*.partial.wav"):
        partial.unlink(missing_ok=True)


def plan_hash(plan: list[dict[str, Any]]) -> str:
    """A short hash of the whole plan: equal plans render equal corpora."""
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]


def _check_build_file(root: Path, hours: float, seed: int, plan: list[dict[str, Any]]) -> None:
    """Refuse to resume a corpus made with other settings or another plan (tokgen version)."""
    settings = {"hours": hours, "seed": seed, "sample_rate": SAMPLE_RATE, "plan": plan_hash(plan)}
    path = root / BUILD_FILE
    if path.is_file():
        previous = json.loads(path.read_text())
        if {k: previous.get(k) for k in ("hours", "seed")} != {"hours": hours, "seed": seed}:
            raise InvalidInputError(
                f"{root} holds a corpus built with {previous}, not {settings}; resume with the "
                "same --hours and --seed, or build into another --out."
            )
        if previous != settings:
            raise InvalidInputError(
                f"{root} was built by another tokgen version (its plan {previous.get('plan')} "
                f"differs from {settings['plan']}); build into another --out."
            )
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings) + "\n")


def _finish_rows(rows: list[dict[str, Any]], root: Path) -> list[dict[str, Any]]:
    """Rows whose clip exists, with measured ``duration``, ``num_samples``, ``sample_rate``."""
    done = []
    for row in rows:
        path = root / row["path"]
        if not path.is_file():
            continue
        frames = sf.info(str(path)).frames
        done.append(
            row | {"duration": round(frames / SAMPLE_RATE, 4), "num_samples": frames,
                   "sample_rate": SAMPLE_RATE}
        )  # fmt: skip
    return done


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Hours per kind and split, voices, classes and held-out sets of finished rows."""
    hours: Counter[str] = Counter()
    per_split: Counter[str] = Counter()
    for row in rows:
        hours[row["kind"]] += row["duration"] / 3600
        per_split[row["split"]] += row["duration"] / 3600
    voices = sorted({row["voice"] for row in rows if row["kind"] == "speech"})
    classes = sorted({row["class"] for row in rows if row["kind"] in ("music", "sound_event")})
    return {
        "clips": len(rows),
        "hours_total": round(sum(hours.values()), 3),
        "hours_per_kind": {kind: round(h, 3) for kind, h in sorted(hours.items())},
        "hours_per_split": {split: round(h, 3) for split, h in sorted(per_split.items())},
        "clips_per_split": dict(sorted(Counter(row["split"] for row in rows).items())),
        "voices": voices,
        "held_out_voices": sorted(v.id for v in VOICES if v.held_out),
        "classes": classes,
        "held_out_instruments": list(HELD_OUT_INSTRUMENTS),
    }


def build_corpus(out: str | Path, *, hours: float, seed: int = 0, jobs: int = 2) -> BuildReport:
    """Synthesize (or finish) the corpus in ``out``; write ``{split}.jsonl`` and ``summary.json``.

    Raises :class:`~tokgen.errors.MissingDependencyError` naming missing Debian packages,
    and :class:`~tokgen.errors.TokgenError` (after writing manifests of what was made) if
    any clip failed to render.
    """
    require()
    root = Path(out)
    plan = plan_corpus(hours, seed)
    _check_build_file(root, hours, seed, plan)
    _remove_stale(root)
    started = time.perf_counter()
    report = BuildReport(root)
    clips = [row for row in plan if row["kind"] != "mixture"]
    _run_jobs(clips, root, jobs, report, "clips")
    done = {row["id"] for row in clips if (root / row["path"]).is_file()}
    mixtures = [
        row for row in plan if row["kind"] == "mixture"
        and all(source["id"] in done for source in row["sources"])
    ]  # fmt: skip
    _run_jobs(mixtures, root, jobs, report, "mixtures")
    rows = _finish_rows(plan, root)
    for split in SPLITS:
        lines = [json.dumps(row, sort_keys=True) for row in rows if row["split"] == split]
        atomic_write_text(root / f"{split}.jsonl", "\n".join(lines) + "\n" if lines else "")
    report.summary = summarize(rows) | {
        "seed": seed,
        "hours_requested": hours,
        "build_seconds_this_run": round(time.perf_counter() - started, 1),
        "failed": len(report.failures),
    }
    atomic_write_text(root / "summary.json", json.dumps(report.summary, indent=2) + "\n")
    if report.failures:
        first = "; ".join(f"{item}: {reason}" for item, reason in report.failures[:3])
        raise TokgenError(
            f"{len(report.failures)} clip(s) failed to render (manifests list the "
            f"{len(rows)} that exist; rerun to retry): {first}"
        )
    return report
