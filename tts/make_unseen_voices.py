"""A dev set of voices the TTS never trained on, for tuning without the test split: 8 valid
sentences each in flite's ``kal`` (the 8 kHz diphone voice, not in the corpus), in
rms/slt/kal16 pitch-shifted by amounts the corpus never used, and 16 in festival's ``ked``
(another speaker; Debian's ``festvox-kdlpc16k``, skipped if it is not installed). Writes
runs/dev-voices/dev.jsonl (a manifest `tokgen eval tts` reads).

    python tts/make_unseen_voices.py
    tokgen eval tts --model tokgen-tts-small --manifest runs/dev-voices/dev.jsonl
"""

import json
import random
import subprocess
from pathlib import Path

from tokgen.data.voices import Voice, engine_command

with open("data/corpus/valid.jsonl") as handle:
    rows = [json.loads(line) for line in handle]
sents = [r["transcript"] for r in rows if r["kind"] == "speech" and r.get("transcript")]
random.Random(0).shuffle(sents)
voices = [  # (dev voice id, engine voice, pitch shift in cents, sentences)
    ("dev-kal", Voice("dev-kal", "flite", "kal", "male", "american"), 0, 8),
    ("dev-slt-m150", Voice("dev-slt", "flite", "slt", "female", "american"), -150, 8),
    ("dev-rms-p200", Voice("dev-rms", "flite", "rms", "male", "american"), 200, 8),
    ("dev-kal16-m200", Voice("dev-kal16", "flite", "kal16", "male", "american"), -200, 8),
    ("dev-ked", Voice("dev-ked", "festival", "voice_ked_diphone", "male", "american"), 0, 16),
]
if not Path("/usr/share/festival/voices/english/ked_diphone").exists():
    print("festvox-kdlpc16k is not installed: no dev-ked voice")
    voices = voices[:-1]
out = Path("runs/dev-voices")
out.mkdir(parents=True, exist_ok=True)
man = []
k = 0
for vid, voice, cents, count in voices:
    for s in sents[k : k + count]:
        i = len(man)
        raw = out / f"raw{i}.wav"
        wav = out / f"{vid}-{i}.wav"
        command, stdin = engine_command(voice, s, str(raw))
        subprocess.run(command, input=stdin, text=True, check=True, capture_output=True)
        eff = ["pitch", str(cents)] if cents else []
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav), *eff, "norm", "-3"],
            check=True,
        )
        raw.unlink()
        man.append(
            {
                "id": f"{vid}-{i}",
                "kind": "speech",
                "engine": voice.engine,
                "voice": vid,
                "transcript": s,
                "path": wav.name,
                "class": "speech",
                "captions": ["speech"],
                "sample_rate": 16000,
            }
        )
    k += count
(out / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in man))
print(len(man))
