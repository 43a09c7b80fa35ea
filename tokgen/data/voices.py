"""The synthetic speakers of the corpus: Debian TTS voices and pitch/tempo variants of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Voice:
    """One voice id: a TTS engine voice, optionally shifted by sox (a distinct speaker)."""

    id: str
    engine: str  # flite | festival | espeak-ng
    name: str  # the engine's voice name
    gender: str  # male | female
    accent: str  # for captions: american, scottish, ...
    pitch_cents: int = 0  # sox pitch shift
    tempo: float = 1.0  # sox tempo factor (duration / tempo)
    weight: float = 1.0  # relative share of the speech hours
    held_out: bool = False  # test split only


VOICES: tuple[Voice, ...] = (
    Voice("flite-kal16", "flite", "kal16", "male", "american"),
    Voice("flite-awb", "flite", "awb", "male", "scottish", weight=0.3, held_out=True),
    Voice("flite-rms", "flite", "rms", "male", "american"),
    Voice("flite-slt", "flite", "slt", "female", "american"),
    Voice("festival-kal", "festival", "voice_kal_diphone", "male", "american"),
    Voice("festival-slt-hts", "festival", "voice_cmu_us_slt_arctic_hts", "female", "american"),
    Voice("espeak-en-us", "espeak-ng", "en-us+m3", "male", "american", weight=0.6),
    Voice("espeak-en-gb-f", "espeak-ng", "en-gb+f3", "female", "british", weight=0.6),
    Voice("espeak-en-sc", "espeak-ng", "en-gb-scotland+m2", "male", "scottish", weight=0.3,
          held_out=True),
    Voice("espeak-en-029", "espeak-ng", "en-029+m4", "male", "caribbean", weight=0.6),
    Voice("espeak-en-rp-f", "espeak-ng", "en-gb-x-rp+f2", "female", "british", weight=0.6),
    Voice("espeak-en-wm", "espeak-ng", "en-gb-x-gbcwmd+m7", "male", "british", weight=0.6),
    Voice("flite-rms-low", "flite", "rms", "male", "american", pitch_cents=-300),
    Voice("flite-slt-high", "flite", "slt", "female", "american", pitch_cents=250, tempo=1.1),
    Voice("flite-kal16-high", "flite", "kal16", "male", "american", pitch_cents=400),
    Voice("festival-kal-low", "festival", "voice_kal_diphone", "male", "american",
          pitch_cents=-250, tempo=0.9),
    Voice("festival-slt-hts-low", "festival", "voice_cmu_us_slt_arctic_hts", "female",
          "american", pitch_cents=-350),
)  # fmt: skip

VOICE_BY_ID: dict[str, Voice] = {voice.id: voice for voice in VOICES}


def engine_command(voice: Voice, text: str, out_path: str) -> tuple[list[str], str | None]:
    """The command (and its stdin) that speaks ``text`` into the wav file ``out_path``."""
    if voice.engine == "flite":
        return ["flite", "-voice", voice.name, "-t", text, "-o", out_path], None
    if voice.engine == "festival":
        return ["text2wave", "-eval", f"({voice.name})", "-o", out_path], text
    if voice.engine == "espeak-ng":
        return ["espeak-ng", "-v", voice.name, "-w", out_path, text], None
    raise ValueError(f"unknown TTS engine {voice.engine!r}")
