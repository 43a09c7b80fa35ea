#!/usr/bin/env bash
# Train an LM recipe on an accelerator in one call, or its tiny CPU mode (the tests run it).
#
#   scripts/train_on_accelerator.sh RECIPE OUT [MINUTES] [BATCH]   # a GPU: bf16, 9 min, batch 64
#   scripts/train_on_accelerator.sh --tiny TOKENS OUT             # CPU: 2 steps of lm/tiny.yaml
#
# The token corpus the recipe names (data.tokens: tokens only, well under 64 MiB) and the
# caption embeddings (RECIPE's run folder, caption_embeddings.*: computed on the CPU by any
# start of the recipe, and copied here, so the accelerator needs no caption encoder) travel with the working tree; wheels the machine
# lacks (soundfile, cffi, pycparser) go in .whl/ (see lm/README.md). OUT receives
# model/ (config.json + the weights in fp16, split into parts under 15 MiB:
# `cat model.safetensors.part-* > model.safetensors` joins them) and train.log. The run
# itself stays in OUT/run (checkpoints; rerun with the same OUT to resume).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

if [ "${1:-}" = "--tiny" ]; then
  tokens=$2 out=$3
  settings=(--config lm/tiny.yaml --set "data.tokens=$tokens" --set run.max_steps=2
            --set run.save_every=2 --set data.num_workers=0)
else
  recipe=$1 out=$2 minutes=${3:-9} batch=${4:-64}
  python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU: use --tiny on a CPU')"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  run_dir=$(python3 -c "import sys; from tokgen.training.config import load_lm_train_config as l; print(l(sys.argv[1]).run.out_dir)" "$recipe")
  if ! compgen -G "$run_dir/caption_embeddings.*" >/dev/null; then
    echo "no caption embeddings in $run_dir: start the recipe once on a CPU (tokgen train lm --config $recipe --set run.max_steps=0) and carry them" >&2
    exit 2
  fi
  mkdir -p "$out/run"
  cp -n "$run_dir"/caption_embeddings.* "$out/run/"
  settings=(--config "$recipe" --set run.mixed_precision=bf16 --set "data.batch_size=$batch"
            --set "run.max_minutes=$minutes" --set data.num_workers=8 --set run.save_every=500
            --set run.log_every=50)
fi
mkdir -p "$out"
start=$(date +%s)
python3 -m tokgen.cli train lm "${settings[@]}" --set "run.out_dir=$out/run" 2>&1 \
  | tr '\r' '\n' | tee "$out/train.log"
echo "trained in $(( $(date +%s) - start )) s" | tee -a "$out/train.log"
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
