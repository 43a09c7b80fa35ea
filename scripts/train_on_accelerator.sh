#!/usr/bin/env bash
# Train a recipe on an accelerator in one call, or its tiny CPU mode (the tests run it).
#
#   scripts/train_on_accelerator.sh RECIPE OUT [MINUTES] [BATCH]   # a GPU: bf16, 9 min, batch 64
#   scripts/train_on_accelerator.sh --tiny TOKENS OUT             # CPU: 2 steps of lm/tiny.yaml
#   KIND=diffusion scripts/train_on_accelerator.sh ...            # a diffusion recipe instead
#                                                                 # (--tiny: LATENTS, diffusion/tiny.yaml)
#   KIND=tts scripts/train_on_accelerator.sh ...                  # the duration TTS (--tiny:
#                                                                 # LATENTS OUT ALIGNMENTS, tts/tiny.yaml)
#
# The corpus the recipe names (an LM's data.tokens, a diffusion model's data.latents, the
# duration TTS's data.latents and data.alignments: well under 64 MiB) and the captions' MiniLM features (RECIPE's run folder: an LM's
# caption_embeddings.*, a diffusion model's caption_states.*, computed on the CPU by any
# start of the recipe, and copied here, so the accelerator needs no caption encoder) travel
# with the working tree; wheels the machine lacks (soundfile, cffi, pycparser) go in .whl/
# (see lm/README.md). OUT receives model/ (an LM: config.json + the weights in fp16, split
# into parts under 15 MiB: `cat model.safetensors.part-* > model.safetensors` joins them; a
# diffusion model: its pipeline folder in fp16) and train.log. The run itself stays in
# OUT/run (checkpoints; rerun with the same OUT to resume).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

kind=${KIND:-lm}
case $kind in
  lm) data_key=data.tokens features="caption_embeddings" reader=load_lm_train_config
      reader_module=tokgen.training.config ;;
  diffusion) data_key=data.latents features="caption_states"
      reader=load_diffusion_train_config reader_module=tokgen.training.diffusion_training ;;
  tts) data_key=data.latents features="" reader=load_tts_train_config
      reader_module=tokgen.training.tts_training ;;
  *) echo "KIND must be lm, diffusion or tts, got $kind" >&2; exit 2 ;;
esac

if [ "${1:-}" = "--tiny" ]; then
  corpus=$2 out=$3
  settings=(--config "$kind/tiny.yaml" --set "$data_key=$corpus" --set run.max_steps=2
            --set run.save_every=2 --set data.num_workers=0)
  if [ "$kind" = tts ]; then settings+=(--set "data.alignments=$4"); fi
else
  recipe=$1 out=$2 minutes=${3:-9} batch=${4:-64}
  python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU: use --tiny on a CPU')"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  run_dir=$(python3 -c "import sys; from $reader_module import $reader as l; print(l(sys.argv[1]).run.out_dir)" "$recipe")
  mkdir -p "$out/run"
  if [ -n "$features" ]; then  # the TTS has no captions
    if ! compgen -G "$run_dir/$features.*" >/dev/null; then
      echo "no $features in $run_dir: start the recipe once on a CPU (tokgen train $kind --config $recipe --set run.max_steps=0) and carry them" >&2
      exit 2
    fi
    cp -n "$run_dir"/"$features".* "$out/run/"
  fi
  settings=(--config "$recipe" --set run.mixed_precision=bf16 --set "data.batch_size=$batch"
            --set "run.max_minutes=$minutes" --set data.num_workers=8 --set run.save_every=500
            --set run.log_every=50)
fi
mkdir -p "$out"
start=$(date +%s)
python3 -m tokgen.cli train "$kind" "${settings[@]}" --set "run.out_dir=$out/run" 2>&1 \
  | tr '\r' '\n' | tee "$out/train.log"
echo "trained in $(( $(date +%s) - start )) s" | tee -a "$out/train.log"
if [ "$kind" = tts ]; then  # exported in fp16 already (a few MiB)
  rm -rf "$out/model" && cp -r "$out/run/model" "$out/model"
  echo "exported $out/model: $(du -sh "$out/model" | cut -f1)"
  exit 0
fi
if [ "$kind" = diffusion ]; then
  python3 - "$out" <<'PY'
import sys
from pathlib import Path

import torch

from tokgen.diffusion.pipeline import load_dit, save_diffusion

out = Path(sys.argv[1])
save_diffusion(load_dit(out / "run" / "model"), out / "model", dtype=torch.float16)
size = (out / "model" / "transformer" / "model.safetensors").stat().st_size
print(f"exported {out / 'model'}: {size / 2**20:.1f} MiB in fp16")
PY
  exit 0
fi
python3 - "$out" <<'PY'
import sys
from pathlib import Path

import torch

from tokgen.lm.checkpoint import load_lm, save_lm

out = Path(sys.argv[1])
model = save_lm(load_lm(out / "run" / "model"), out / "model", dtype=torch.float16)
weights = model / "model.safetensors"
data, part = weights.read_bytes(), 15 * 2**20
for i in range(0, len(data), part):
    (model / f"model.safetensors.part-{i // part:02d}").write_bytes(data[i : i + part])
weights.unlink()
print(f"exported {out / 'model'}: {len(data) / 2**20:.1f} MiB in fp16")
PY
