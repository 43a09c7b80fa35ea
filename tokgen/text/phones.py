"""The phone front end of the duration TTS: flite's lexicon, letter-to-sound rules and durations.

flite (a Debian package) turns English text into CMU phones and gives each its duration from
its own duration model (``flite -psdur``). :func:`flite_phones` runs it on normalized text;
:data:`PHONES` is the inventory, a phone's id its index plus one (0 pads). :func:`flite_speak`
also returns flite's own rendering (16 kHz).
"""

from __future__ import annotations

import functools
import itertools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tokgen.errors import InvalidInputError, MissingDependencyError
from tokgen.text.frontend import TextFrontend, normalize_text

PHONES = (
    *("pau", "aa", "ae", "ah", "ao", "aw", "ax", "axr", "ay", "b", "ch", "d", "dh", "eh", "er"),
    *("ey", "f", "g", "hh", "ih", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r"),
    *("s", "sh", "t", "th", "uh", "uw", "v", "w", "y", "z", "zh"),
)
"""flite's US English phone set; ``pau`` is silence."""

PHONE_IDS = {phone: i + 1 for i, phone in enumerate(PHONES)}
PAD_ID = 0
FRONTEND_VOICE = "kal16"  # the flite voice whose duration model times the phones
SAMPLE_RATE = 16_000  # its rendering's rate


@dataclass(frozen=True)
class PhoneSequence:
    """Phones of one text and the time each ends, in seconds, as flite would say them."""

    phones: list[str]
    ends: list[float]

    @property
    def ids(self) -> list[int]:
        return [PHONE_IDS[p] for p in self.phones]

    def frame_durations(
        self, frame_rate: float, speed: float = 1.0, scale: list[float] | None = None
    ) -> list[int]:
        """Frames per phone at ``frame_rate`` (Hz), each phone's length times its ``scale``
        (clamped to 0.5-2; default 1) and divided by ``speed``, ends rounded so the sum is the
        total."""
        ends = self.ends
        if scale is not None:
            starts = [0.0, *ends[:-1]]
            lengths = ((e - s) * min(max(k, 0.5), 2.0) / speed
                       for s, e, k in zip(starts, ends, scale))  # fmt: skip
            ends, speed = list(itertools.accumulate(lengths)), 1.0
        bounds = [0] + [round(end / speed * frame_rate) for end in ends]
        return [max(b - a, 0) for a, b in itertools.pairwise(bounds)]


def flite_phones(
    text: str, voice: str = FRONTEND_VOICE, *, wav_path: str | None = None
) -> PhoneSequence:
    """Normalize ``text`` and let flite phonetize and time it: ``pau ... pau``; with
    ``wav_path``, the same call also writes flite's rendering of it there."""
    if shutil.which("flite") is None:
        raise MissingDependencyError(
            "the phone front end needs flite: run `apt-get install -y flite`."
        )
    spoken = normalize_text(text)
    if not spoken.strip(" ,.?!-'"):
        raise InvalidInputError(f"text {text!r} has nothing to say; give a sentence.")
    result = subprocess.run(
        ["flite", "-voice", voice, "-psdur", "-t", spoken, wav_path or "none"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise MissingDependencyError(f"flite failed ({result.returncode}): {result.stderr[-300:]}")
    phones, ends = [], []
    for item in result.stdout.split():
        phone, _, end = item.rpartition(":")
        if phone not in PHONE_IDS:
            raise InvalidInputError(f"flite gave the unknown phone {phone!r} for {text!r}.")
        phones.append(phone)
        ends.append(float(end))
    if not phones:
        raise InvalidInputError(f"flite gave no phones for {text!r}.")
    return PhoneSequence(phones, ends)


def flite_speak(text: str, voice: str = FRONTEND_VOICE) -> tuple[PhoneSequence, np.ndarray]:
    """flite ``voice``'s phones for ``text`` and its own rendering of them ``[T]`` (16 kHz),
    in one run."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spoken.wav"
        sequence = flite_phones(text, voice, wav_path=str(path))
        wav, rate = sf.read(str(path), dtype="float32")
    if rate != SAMPLE_RATE:
        raise MissingDependencyError(f"flite {voice} renders at {rate} Hz, expected {SAMPLE_RATE}")
    return sequence, wav


class PhoneFrontend(TextFrontend):
    """The LM's phone front end (``text_frontend: phones``): normalized text -> flite's CMU
    phones, ids ``1..len(PHONES)`` (``pau`` at the ends and phrase breaks), in place of the
    character ids of :class:`~tokgen.text.frontend.TextFrontend` (whose ``max_tokens`` and
    ``normalize`` it keeps). Each sentence runs flite once (cached), a few ms."""

    @property
    def vocab_size(self) -> int:
        return len(PHONES) + 1  # PAD_ID is never produced but keeps ids = PHONE_IDS

    def encode(self, text: str) -> list[int]:
        """flite's phone ids for ``text``, ``len <= max_tokens``."""
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a str, got {type(text).__name__}")
        ids = _phone_ids(text)
        if len(ids) > self.max_tokens:
            raise InvalidInputError(
                f"text is {len(ids)} phones, over the limit of {self.max_tokens} tokens; split "
                "it into shorter pieces (e.g. sentences) and generate each separately"
            )
        return list(ids)

    def decode(self, ids: list[int]) -> str:
        """Phone ids back to space-separated phones."""
        if any(not 1 <= int(i) <= len(PHONES) for i in ids):
            raise InvalidInputError(f"phone ids are 1..{len(PHONES)}, got {list(ids)}")
        return " ".join(PHONES[int(i) - 1] for i in ids)


@functools.lru_cache(maxsize=65536)
def _phone_ids(text: str) -> tuple[int, ...]:
    return tuple(flite_phones(text).ids)
