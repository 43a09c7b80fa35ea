"""The duration TTS's mel-cepstral postfilter swept on a manifest with `tokgen eval tts`'s
harness (same items, prompts and measures), one row per strength:

    python tts/postfilter_sweep.py --model tokgen-tts-small --manifest data/corpus/valid.jsonl \
        --betas 1.0,1.1,1.2 [--limit N] [--json F]
"""

import argparse
import json

import tokgen
from tokgen.eval.judge import load_judge
from tokgen.eval.lm_eval import eval_tts

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--model", default="tokgen-tts-small")
parser.add_argument("--manifest", required=True)
parser.add_argument("--betas", default="1.0,1.1,1.2")
parser.add_argument("--limit", type=int)
parser.add_argument("--json")
args = parser.parse_args()
model, judge = tokgen.load(args.model), load_judge()
rows = {}
print(
    "| postfilter | WER generated / real | judge gives the prompt's voice (real: ceiling) | voice similarity |"
)
print("| --: | --: | --: | --: |")
for beta in (float(b) for b in args.betas.split(",")):
    model.postfilter = beta
    s = eval_tts(model, judge, args.manifest, limit=args.limit).scores
    rows[beta] = s
    print(f"| {beta:g} | {s['wer_generated']:.3f} / {s['wer_real']:.3f} | "
          f"{s['same_voice_rate']:.3f} ({s['same_voice_real']:.3f}) | {s['voice_similarity']:.3f} |",
          flush=True)  # fmt: skip
if args.json:
    with open(args.json, "w") as handle:
        json.dump(rows, handle, indent=1)
