#!/usr/bin/env bash
# Every shipped direction set of both demo models, then their scorecards (models/<id>/scorecard.{json,md,png}).
#
#   bash scripts/discover_demo_sets.sh       # about 45 min on a 2-core CPU, most of it the two Voynov runs
#
# VOYNOV_MINUTES caps each Voynov run (the paper's 3000 x 128 steps need about 75 min on one bf16 core).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
latentct() { "$PY" -m latentct.cli "$@"; }
VOYNOV_MINUTES=${VOYNOV_MINUTES:-28}
mkdir -p runs

for model in models/phantom-dcgan models/phantom-vae; do
  for method in sefa ganspace ica random axes jacobian supervised; do
    latentct discover --model "$model" --method "$method" --threads 1
  done
  # GANSpace of the generated image (pooled to 32 px) beside block 2's
  latentct discover --model "$model" --method ganspace --ganspace-block 0 --set-id ganspace-image --threads 1
done
# the paper's method, as its code ran it, on both models side by side (one thread each)
latentct discover --model models/phantom-dcgan --method voynov --preset paper --amp --max-minutes "$VOYNOV_MINUTES" \
  --threads 1 > runs/voynov-paper-dcgan.log 2>&1 &
gan=$!
latentct discover --model models/phantom-vae --method voynov --preset paper --amp --max-minutes "$VOYNOV_MINUTES" \
  --threads 1 > runs/voynov-paper-vae.log 2>&1 &
vae=$!
wait "$gan"
wait "$vae"
latentct scorecard --model models/phantom-dcgan --threads 1 > runs/scorecard-dcgan.md 2> runs/scorecard-dcgan.log &
gan=$!
latentct scorecard --model models/phantom-vae --threads 1 > runs/scorecard-vae.md 2> runs/scorecard-vae.log &
vae=$!
wait "$gan"
wait "$vae"
