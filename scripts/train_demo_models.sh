#!/usr/bin/env bash
# Retrain the shipped demo models from nothing, on a CPU: phantom dataset -> phantom probe -> DCGAN (improved recipe)
# and ResNet VAE, trained side by side, one thread each, under a time budget -> models/phantom-dcgan,
# models/phantom-vae, models/_phantom-probe; then the memorisation check and the nearest-training-slice index.
# Direction sets: scripts/discover_demo_sets.sh.
#
#   bash scripts/train_demo_models.sh        # about 95 min on a 2-core CPU with native bf16 (AMX); minutes on a GPU
#
# Environment knobs (defaults reproduce the shipped models): DATA, WORK, BATCH, THREADS, DEVICE, GAN_MINUTES,
# VAE_MINUTES, SKIP_DATA=1 / SKIP_PROBE=1 to reuse an existing dataset / probe. A run that was interrupted is continued
# by running the same command with RESUME=1 (it picks up each run's last checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
latentct() { "$PY" -m latentct.cli "$@"; }
DATA=${DATA:-data/phantom-50k}
WORK=${WORK:-runs/demo}
BATCH=${BATCH:-64}
THREADS=${THREADS:-1}
DEVICE=${DEVICE:-auto}
GAN_MINUTES=${GAN_MINUTES:-85}
VAE_MINUTES=${VAE_MINUTES:-50}
MODELS=models

# 1. The data: 2000 random phantom patients x 32 slices at 128 px (64000 slices, 4.2 GB), seed 0, bit for bit
#    reproducible; about 4 min on one core. Not committed: this command makes it.
if [[ "${SKIP_DATA:-0}" != 1 && "${RESUME:-0}" != 1 ]]; then
  latentct data phantom --out "$DATA" --patients 2000 --slices-per-patient 32 --size 128 --seed 0 --overwrite
fi

# 2. The probe that measures the models: a factor regressor on 6000 freshly rendered phantom slices (another seed),
#    reading the breast size a slice shows.
if [[ "${SKIP_PROBE:-0}" != 1 && "${RESUME:-0}" != 1 ]]; then
  rm -rf "$MODELS/_phantom-probe"
  latentct train probe --out "$MODELS/_phantom-probe" --samples 6000 --epochs 12 --threads "$THREADS" --device "$DEVICE" --no-progress
fi

# 3. Both generators at demo width, side by side under their time budgets, each logging to its run directory's log.
#    --epochs is an upper bound; the budget ends the run (checkpointed, then measured and saved).
mkdir -p "$WORK"
resume=()
if [[ "${RESUME:-0}" == 1 ]]; then resume=(--resume); else rm -rf "$WORK/phantom-dcgan" "$WORK/phantom-vae"; fi
common=(--data "$DATA" --recipe improved --batch-size "$BATCH" --epochs 100 --threads "$THREADS" --device "$DEVICE"
        --seed 0 --checkpoint-interval 300 --quality-every 250 --no-progress)
if [[ ${#resume[@]} -gt 0 ]]; then common=(--data "$DATA" --epochs 100 --threads "$THREADS" --device "$DEVICE" --no-progress); fi
latentct train gan --out "$WORK/phantom-dcgan" "${common[@]}" "${resume[@]}" --ngf 32 --ndf 32 --max-minutes "$GAN_MINUTES" \
  > "$WORK/phantom-dcgan.log" 2>&1 &
gan=$!
latentct train vae --out "$WORK/phantom-vae" "${common[@]}" "${resume[@]}" --base-channels 16 --max-minutes "$VAE_MINUTES" \
  > "$WORK/phantom-vae.log" 2>&1 &
vae=$!
wait "$gan"
wait "$vae"

# 4. Publish: the serving files only (no discriminator, no training checkpoint) into models/<id>; then the
#    memorisation check on each card.
for id in phantom-dcgan phantom-vae; do
  latentct models publish "$WORK/$id" --models-dir "$MODELS" --overwrite
  latentct models memorisation --model "$MODELS/$id" --data "$DATA" --samples 1000 > "$WORK/$id.memorisation.json"
  # the nearest-training-slice index of the app (Explore's toggle, GET .../nearest): the training split regenerated
  # from the card's data block (not read from $DATA, so that nearest.png can render its slices anywhere)
  latentct nearest build --model "$MODELS/$id" --no-progress
done
latentct models list --models-dir "$MODELS"
