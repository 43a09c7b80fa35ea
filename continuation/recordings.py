"""The reference for `tokgen eval continuation`: the recordings' own continuation, judged
the same way (the judge must give the clip's next 3 s the class, and for speech the
voice, it gives the first 2 s), per kind:

    python continuation/recordings.py --manifest data/corpus/test.jsonl
"""

import argparse
from pathlib import Path

from tokgen.eval.judge import load_judge
from tokgen.eval.lm_eval import (
    CONTINUATION_PROMPT_SECONDS,
    CONTINUATION_SECONDS,
    _rows,
    load_mono,
)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--manifest", required=True)
args = parser.parse_args()
judge, root = load_judge(), Path(args.manifest).parent
rows = _rows(args.manifest, ("speech", "music", "sound_event"), None,
             keep=lambda r: r["duration"] >= CONTINUATION_PROMPT_SECONDS + 0.5)  # fmt: skip
prompts, nexts = [], []
start, end = (round(s * 16_000) for s in (CONTINUATION_PROMPT_SECONDS,
                                          CONTINUATION_PROMPT_SECONDS + CONTINUATION_SECONDS))  # fmt: skip
for row in rows:
    wav = load_mono(root / row["path"], 16_000)
    prompts.append(wav[:start])
    nexts.append(wav[start:end])
prompt_classes, prompt_voices, _ = judge.judge(prompts)
classes, voices, _ = judge.judge(nexts)
kept: dict[str, list[bool]] = {}
for k, row in enumerate(rows):
    same = classes[k] == prompt_classes[k]
    if row["kind"] == "speech":
        same = same and voices[k] == prompt_voices[k]
    kept.setdefault(row["kind"], []).append(same)
every = [s for values in kept.values() for s in values]
print(f"all: {sum(every) / len(every):.3f} of {len(every)}")
for kind, values in kept.items():
    print(f"{kind}: {sum(values) / len(values):.3f} of {len(values)}")
