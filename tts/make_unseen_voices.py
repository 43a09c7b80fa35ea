"""A dev set of voices the TTS never trained on, for tuning without the test split: 8 valid
sentences each in flite's ``kal`` (the 8 kHz diphone voice, not in the corpus) and in
rms/slt/kal16 pitch-shifted by amounts the corpus never used. Writes
runs/dev-voices/dev.jsonl (a manifest `tokgen eval tts` reads).

    python tts/make_unseen_voices.py
    tokgen eval tts --model tokgen-tts-small --manifest runs/dev-voices/dev.jsonl
"""

import json
import random
import subprocess
from pathlib import Path

with open("data/corpus/valid.jsonl") as handle:
    rows = [json.loads(line) for line in handle]
sents = [r["transcript"] for r in rows if r["kind"] == "speech" and r.get("transcript")]
random.Random(0).shuffle(sents)
voices = [
    ("dev-kal", "kal", 0),
    ("dev-slt-m150", "slt", -150),
    ("dev-rms-p200", "rms", 200),
    ("dev-kal16-m200", "kal16", -200),
]
out = Path("runs/dev-voices")
out.mkdir(parents=True, exist_ok=True)
man = []
k = 0
for vid, name, cents in voices:
    for s in sents[k : k + 8]:
        i = len(man)
        raw = out / f"raw{i}.wav"
        wav = out / f"{vid}-{i}.wav"
        subprocess.run(["flite", "-voice", name, "-t", s, "-o", str(raw)], check=True)
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
                "engine": "flite",
                "voice": vid,
                "transcript": s,
                "path": wav.name,
                "class": "speech",
                "captions": ["speech"],
                "sample_rate": 16000,
            }
        )
    k += 8
(out / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in man))
print(len(man))
