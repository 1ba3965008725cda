#!/usr/bin/env bash
# Retrain the shipped demo models from nothing, on a CPU: phantom dataset -> phantom probe -> DCGAN and ResNet VAE
# (trained in parallel, one thread each) -> models/phantom-dcgan, models/phantom-vae, models/_phantom-probe.
#
#   bash scripts/train_demo_models.sh            # about 45-60 min on 2 CPU cores; minutes on a GPU
#
# Environment knobs (defaults reproduce the shipped models): DATA, WORK, EPOCHS, BATCH, THREADS, DEVICE,
# SKIP_DATA=1 / SKIP_PROBE=1 to reuse an existing dataset / probe.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
latentct() { "$PY" -m latentct.cli "$@"; }
DATA=${DATA:-data/phantom-demo}
WORK=${WORK:-runs/demo}
EPOCHS=${EPOCHS:-15}
BATCH=${BATCH:-32}
THREADS=${THREADS:-1}
DEVICE=${DEVICE:-auto}
MODELS=models

# 1. The data: 200 random phantom patients x 16 slices at 128 px, seed 0 (bit-for-bit reproducible).
if [[ "${SKIP_DATA:-0}" != 1 ]]; then
  latentct data phantom --out "$DATA" --patients 200 --slices-per-patient 16 --size 128 --seed 0 --overwrite
fi

# 2. The probe that measures the models: a factor regressor on 6000 freshly rendered phantom slices (another seed).
if [[ "${SKIP_PROBE:-0}" != 1 ]]; then
  rm -rf "$MODELS/_phantom-probe"
  latentct train probe --out "$MODELS/_phantom-probe" --samples 6000 --epochs 12 --threads "$THREADS" --device "$DEVICE" --no-progress
fi

# 3. Both generators at demo width, side by side, each logging to its run directory's train.log.
mkdir -p "$WORK"
rm -rf "$WORK/phantom-dcgan" "$WORK/phantom-vae"
latentct train gan --data "$DATA" --out "$WORK/phantom-dcgan" --ngf 32 --ndf 32 --epochs "$EPOCHS" --batch-size "$BATCH" \
  --threads "$THREADS" --device "$DEVICE" --seed 0 --no-progress > "$WORK/phantom-dcgan.log" 2>&1 &
gan=$!
latentct train vae --data "$DATA" --out "$WORK/phantom-vae" --base-channels 16 --epochs "$EPOCHS" --batch-size "$BATCH" \
  --threads "$THREADS" --device "$DEVICE" --seed 0 --no-progress > "$WORK/phantom-vae.log" 2>&1 &
vae=$!
wait "$gan"
wait "$vae"

# 4. Publish: the serving files only (no discriminator, no training checkpoint) into models/<id>.
latentct models publish "$WORK/phantom-dcgan" --models-dir "$MODELS" --overwrite
latentct models publish "$WORK/phantom-vae" --models-dir "$MODELS" --overwrite
latentct models list --models-dir "$MODELS"
