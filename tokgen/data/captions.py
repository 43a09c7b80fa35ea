"""Captions for corpus clips from what is known about their source, via varied templates.

Each clip gets several paraphrases: some name only the class, others add tempo, pitch,
loudness or mood words.
"""

from __future__ import annotations

import random

TEMPO_WORDS = {"slow": ["slow", "leisurely", "unhurried"], "moderate": ["moderate", "steady",
               "mid-tempo"], "fast": ["fast", "quick", "lively"]}  # fmt: skip
PITCH_WORDS = {"low": ["low", "deep", "low-pitched"], "middle": ["mid-range", "medium-pitched"],
               "high": ["high", "high-pitched", "bright"]}  # fmt: skip
LOUDNESS_WORDS = {"soft": ["soft", "quiet", "gentle"], "medium": ["moderately loud", "clear"],
                  "loud": ["loud", "powerful", "strong"]}  # fmt: skip
MOOD_WORDS = {"major": ["cheerful", "happy"], "minor": ["sad", "melancholic"],
              "pentatonic": ["simple", "folk-like"], "blues": ["bluesy", "soulful"]}  # fmt: skip
STYLE_WORDS = {"melody": "melody", "arpeggio": "arpeggio", "chords": "chords"}


def tempo_word(bpm: float) -> str:
    """``slow`` (< 90 bpm), ``moderate`` or ``fast`` (> 130 bpm)."""
    return "slow" if bpm < 90 else "fast" if bpm > 130 else "moderate"


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _choose(rng: random.Random, templates: list[str], count: int) -> list[str]:
    picked = rng.sample(templates, min(count, len(templates)))
    return [" ".join(text.split()) for text in picked]


def music_captions(
    rng: random.Random,
    *,
    instrument: str,
    bpm: float,
    register: str,
    dynamics: str,
    scale: str,
    style: str,
    count: int = 4,
) -> list[str]:
    """Paraphrased captions of a melodic clip."""
    tempo = rng.choice(TEMPO_WORDS[tempo_word(bpm)])
    pitch = rng.choice(PITCH_WORDS[register])
    loud = rng.choice(LOUDNESS_WORDS[dynamics])
    mood = rng.choice(MOOD_WORDS[scale])
    what = STYLE_WORDS[style]
    templates = [
        f"{_article(instrument)} playing",
        f"the sound of {_article(instrument)}",
        f"{_article(tempo)} {instrument} {what}",
        f"{_article(loud)} {instrument} playing {_article(mood)} {what}",
        f"{instrument} {what} in a {pitch} register",
        f"someone plays {_article(instrument)}, {tempo} and {loud}",
        f"{_article(mood)} {what} played on {_article(instrument)} at a {tempo} tempo",
        f"{_article(pitch)} {instrument} {what}, around {round(bpm)} beats per minute",
        f"solo {instrument} music",
    ]
    return _choose(rng, templates, count)


def drum_captions(
    rng: random.Random, *, style: str, bpm: float, dynamics: str, count: int = 4
) -> list[str]:
    """Paraphrased captions of a drum-kit groove."""
    tempo = rng.choice(TEMPO_WORDS[tempo_word(bpm)])
    loud = rng.choice(LOUDNESS_WORDS[dynamics])
    templates = [
        "drums playing",
        "a drum kit groove",
        f"{_article(tempo)} {style} drum beat",
        f"{loud} drums playing a {style} rhythm",
        f"a drummer plays {_article(tempo)} beat",
        f"{style} drum pattern at {round(bpm)} beats per minute",
        "percussion with kick, snare and cymbals",
    ]
    return _choose(rng, templates, count)


def event_captions(
    rng: random.Random, *, label: str, dynamics: str, recorded: bool = False, count: int = 4
) -> list[str]:
    """Paraphrased captions of a sound event (GM effect, percussion or a real recording)."""
    loud = rng.choice(LOUDNESS_WORDS[dynamics])
    source = "a recording of" if recorded else "the sound of"
    templates = [
        label,
        f"{source} {label}",
        f"{loud} {label}",
        f"{label} can be heard",
        f"a {loud} sound of {label}",
        f"{label} in the background" if dynamics == "soft" else f"{label} up close",
        f"short {label} sounds" if rng.random() < 0.5 else f"{label}, then silence",
    ]
    return _choose(rng, templates, count)


def speech_captions(rng: random.Random, *, gender: str, accent: str, count: int = 3) -> list[str]:
    """Paraphrased captions of a speech clip (no transcript)."""
    person = rng.choice(
        {"male": ["man", "male speaker"], "female": ["woman", "female speaker"]}[gender]
    )
    templates = [
        "speech",
        "a person speaking",
        f"a {person} speaking",
        f"a {gender} voice talking",
        f"a {person} speaking english with {_article(accent)} accent",
        f"someone talks in a synthetic {gender} voice",
    ]
    return _choose(rng, templates, count)
