"""Procedural General MIDI clips (melodies, drum patterns, GM sound effects) as SMF bytes.

Every clip is a pure function of its parameters and a seed; :func:`render_midi` turns one
into audio with fluidsynth and the ``fluid-soundfont-gm`` bank.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

TICKS_PER_BEAT = 480

# class label -> GM program (0-based); melodic instruments, one or two per GM family.
INSTRUMENTS: dict[str, int] = {
    "acoustic grand piano": 0,
    "electric piano": 4,
    "harpsichord": 6,
    "celesta": 8,
    "glockenspiel": 9,
    "music box": 10,
    "vibraphone": 11,
    "marimba": 12,
    "xylophone": 13,
    "church organ": 19,
    "accordion": 21,
    "harmonica": 22,
    "nylon string guitar": 24,
    "steel string guitar": 25,
    "electric guitar": 27,
    "distorted guitar": 30,
    "acoustic bass": 32,
    "electric bass": 33,
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "contrabass": 43,
    "harp": 46,
    "timpani": 47,
    "string ensemble": 48,
    "choir": 52,
    "trumpet": 56,
    "trombone": 57,
    "tuba": 58,
    "french horn": 60,
    "soprano saxophone": 64,
    "tenor saxophone": 66,
    "oboe": 68,
    "bassoon": 70,
    "clarinet": 71,
    "flute": 73,
    "pan flute": 75,
    "synth lead": 80,
    "synth pad": 88,
    "sitar": 104,
    "banjo": 105,
    "steel drums": 114,
}

# GM sound effects (programs 120-127) and how each is played.
SOUND_EFFECTS: dict[str, tuple[int, str]] = {
    "guitar fret noise": (120, "hits"),
    "breath noise": (121, "long"),
    "seashore": (122, "long"),
    "bird tweet": (123, "chirps"),
    "telephone ring": (124, "rings"),
    "helicopter": (125, "long"),
    "applause": (126, "long"),
    "gunshot": (127, "hits"),
}

# Single percussion instruments on the GM drum channel: class -> key numbers.
PERCUSSION: dict[str, tuple[int, ...]] = {
    "hand claps": (39,),
    "cowbell": (56,),
    "tambourine": (54,),
    "congas": (62, 63, 64),
    "bongos": (60, 61),
    "woodblock": (76, 77),
    "triangle": (80, 81),
    "shaker": (82, 70),
}

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}
REGISTERS: dict[str, int] = {"low": 36, "middle": 55, "high": 72}  # lowest tonic (MIDI note)
# instruments that cannot sound (or sound well) in a register
NO_HIGH = {"acoustic bass", "electric bass", "contrabass", "tuba", "timpani", "trombone",
           "bassoon", "cello"}  # fmt: skip
NO_LOW = {"celesta", "glockenspiel", "music box", "xylophone", "flute", "pan flute",
          "soprano saxophone", "oboe", "harmonica", "violin"}  # fmt: skip


# playable keys where the FluidR3 GM preset is silent outside them (measured)
KEY_RANGES: dict[str, tuple[int, int]] = {"contrabass": (28, 59)}


def fold_into_range(notes: list[Note], instrument: str) -> list[Note]:
    """Notes moved by whole octaves into the instrument's :data:`KEY_RANGES` (if any)."""
    if instrument not in KEY_RANGES:
        return notes
    low, high = KEY_RANGES[instrument]
    folded = []
    for note in notes:
        key = note.key
        while key > high:
            key -= 12
        while key < low:
            key += 12
        folded.append(Note(note.start, note.length, key, note.velocity))
    return folded


def registers_for(instrument: str) -> list[str]:
    """The registers of :data:`REGISTERS` that ``instrument`` is played in."""
    banned = ("high" if instrument in NO_HIGH else None, "low" if instrument in NO_LOW else None)
    return [name for name in sorted(REGISTERS) if name not in banned]


DYNAMICS: dict[str, tuple[int, int]] = {"soft": (35, 55), "medium": (65, 85), "loud": (100, 122)}
DRUM_STYLES = ("rock", "waltz", "shuffle", "four on the floor", "breakbeat", "march")


@dataclass(frozen=True)
class Note:
    start: float  # beats
    length: float  # beats
    key: int
    velocity: int


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def smf(notes: list[Note], *, program: int | None, tempo_bpm: float, drums: bool) -> bytes:
    """A format-0 Standard MIDI File playing ``notes`` on one channel (10 for drums)."""
    channel = 9 if drums else 0
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message); note-offs first
    for note in notes:
        on = round(note.start * TICKS_PER_BEAT)
        off = max(on + 1, round((note.start + note.length) * TICKS_PER_BEAT))
        events.append((on, 1, bytes([0x90 | channel, note.key, note.velocity])))
        events.append((off, 0, bytes([0x80 | channel, note.key, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    tempo = round(60_000_000 / tempo_bpm)
    track = b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big")
    if program is not None:
        track += b"\x00" + bytes([0xC0 | channel, program])
    tick = 0
    for when, _, message in events:
        track += _vlq(when - tick) + message
        tick = when
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def _velocity(rng: random.Random, dynamics: str) -> int:
    low, high = DYNAMICS[dynamics]
    return rng.randint(low, high)


def melody(
    rng: random.Random, *, beats: float, register: str, scale: str, dynamics: str, style: str
) -> list[Note]:
    """A melody (random walk), arpeggios or block chords over a scale, ``beats`` long."""
    steps = SCALES[scale]
    tonic = REGISTERS[register] + rng.randrange(12)
    pitches = [tonic + 12 * octave + step for octave in range(2) for step in steps]
    notes: list[Note] = []
    t, index = 0.0, rng.randrange(len(steps))
    while t < beats:
        length = rng.choice((0.5, 0.5, 1.0, 1.0, 1.5, 2.0)) if style == "melody" else 1.0
        if style == "chords":
            root = rng.randrange(len(steps))
            for offset in (0, 2, 4):
                key = pitches[min(root + offset, len(pitches) - 1)]
                notes.append(Note(t, 2.0, key, _velocity(rng, dynamics)))
            t += 2.0
            continue
        if style == "arpeggio":
            index = (index + 2) % len(pitches)
            length = 0.5
        else:
            index = min(max(index + rng.choice((-2, -1, -1, 1, 1, 2, 0)), 0), len(pitches) - 1)
        notes.append(Note(t, length * 0.95, pitches[index], _velocity(rng, dynamics)))
        t += length
    return notes


def drum_pattern(rng: random.Random, *, beats: float, style: str, dynamics: str) -> list[Note]:
    """A drum kit groove in one of :data:`DRUM_STYLES`, with random fills and accents."""
    kick, snare, hat, open_hat, tom, crash = 36, 38, 42, 46, 45, 49
    per_bar = 3 if style == "waltz" else 4
    notes: list[Note] = []
    bar = 0
    while bar * per_bar < beats:
        start = bar * per_bar
        grid = 0.5 if style != "breakbeat" else 0.25
        for i in range(int(per_bar / grid)):
            t = start + i * grid
            beat = i * grid
            if style == "four on the floor":
                hits = [kick] if beat % 1 == 0 else [open_hat]
                hits += [snare] if beat in (1.0, 3.0) else []
            elif style == "waltz":
                hits = [kick] if beat == 0 else ([snare] if beat % 1 == 0 else [])
            elif style == "march":
                hits = [snare] if rng.random() < 0.8 else []
                hits += [kick] if beat % 2 == 0 else []
            else:
                hits = [hat]
                if beat in (0.0, 2.5) or (style == "breakbeat" and rng.random() < 0.2):
                    hits.append(kick)
                if beat in (1.0, 3.0) or (style == "shuffle" and beat == 3.5):
                    hits.append(snare)
            for key in hits:
                notes.append(Note(t, 0.2, key, _velocity(rng, dynamics)))
        if rng.random() < 0.25:  # a fill on the last beat
            for i in range(4):
                notes.append(Note(start + per_bar - 1 + i * 0.25, 0.2, tom - i, 100))
        if bar == 0:
            notes.append(Note(start, 0.5, crash, _velocity(rng, dynamics)))
        bar += 1
    return notes


def percussion_hits(rng: random.Random, *, beats: float, keys: tuple[int, ...], dynamics: str):
    """Irregular hits of one percussion instrument."""
    notes, t = [], 0.0
    while t < beats:
        notes.append(Note(t, 0.2, rng.choice(keys), _velocity(rng, dynamics)))
        t += rng.choice((0.25, 0.5, 0.5, 1.0, 1.5))
    return notes


def effect_notes(rng: random.Random, *, beats: float, mode: str, dynamics: str) -> list[Note]:
    """Notes that make a GM sound-effect program sound like its event."""
    notes: list[Note] = []
    t = 0.0
    while t < beats:
        key = rng.randint(48, 72)
        if mode == "long":
            length = min(beats - t, rng.uniform(3.0, 8.0))
            gap = length + rng.uniform(0.0, 1.0)
        elif mode == "chirps":
            length, gap = rng.uniform(0.1, 0.4), rng.uniform(0.2, 1.2)
            key = rng.randint(70, 90)
        elif mode == "rings":
            length, gap = 2.0, 4.0
            key = 60
        else:  # hits
            length, gap = 0.3, rng.uniform(0.5, 3.0)
        notes.append(Note(t, length, key, _velocity(rng, dynamics)))
        t += gap
    return notes
